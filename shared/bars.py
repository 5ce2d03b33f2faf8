"""BaRS resources both intake and the notifier write: a referral as a FHIR ServiceRequest
(where it stands, where it went, why), and the response message that carries it, to a
sender's synchronous answer or to its own `$process-message` later."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from shared.bars_mapping import OwnSystems
from shared.contracts import Appointment, ReferralState

EVENT_SYSTEMS = (
    "https://fhir.nhs.uk/CodeSystem/message-events-bars",
    "https://fhir.nhs.uk/CodeSystem/message-event-servicerequest",  # BaRS 1.0's spelling
)
REFERRAL_EVENT = "servicerequest-request"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"  # the national identifier system
RESPONSE_EVENT = "servicerequest-response"
_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"
# Where a referral stands, as ServiceRequest.status: finished ones are revoked (nothing more
# will be done under them); the state itself is in the `referral-state` extension.
_STATUS = {
    ReferralState.RECEIVED: "active",
    ReferralState.ROUTED: "active",
    ReferralState.NEEDS_TRIAGE: "active",
    ReferralState.ACCEPTED: "active",
    ReferralState.BOOKED: "active",
    ReferralState.ATTENDED: "active",
    ReferralState.DID_NOT_ATTEND: "active",
    ReferralState.REJECTED: "revoked",
    ReferralState.RETURNED: "revoked",
    ReferralState.CANCELLED: "revoked",
    ReferralState.NOT_CONTACTABLE: "revoked",
    ReferralState.DISCHARGED: "completed",
}
_APPOINTMENT_TYPE = {  # HL7 v2 table 0276 has no modes; the mode goes in serviceCategory's text
    "in-person": "In person",
    "telephone": "Telephone",
    "video": "Video",
}


def urn(namespace: UUID, name: str) -> str:
    return f"urn:uuid:{uuid5(namespace, name)}"


def coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def service_request(
    own: OwnSystems,
    *,
    referral_id: UUID,
    tracking_reference: str,
    state: ReferralState,
    nhs_number: str | None = None,
    authored_on: datetime | None = None,
    service: str,
    destination: str | None = None,
    reasons: list[str] | None = None,
) -> dict[str, Any]:
    """A referral as a ServiceRequest: `status` as FHIR defines it, where it stands in the
    `referral-state` extension, the clinic it went to as `performer`, and the decision's
    reasons as notes."""
    subject: dict[str, Any] = (
        {"identifier": {"system": NHS_NUMBER, "value": nhs_number}}
        if nhs_number
        else {"display": "The patient of this referral"}
    )
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(referral_id),
        "extension": [
            {
                "url": own.referral_state,
                "valueCode": state.value,
            }
        ],
        "identifier": [
            {"system": own.referral_id, "value": str(referral_id)},
            {"system": own.tracking_reference, "value": tracking_reference},
        ],
        "status": _STATUS[state],
        "intent": "order",
        "code": coding(own.service, service),
        "subject": subject,
    }
    if authored_on is not None:
        resource["authoredOn"] = authored_on.isoformat()
    if destination:
        resource["performer"] = [{"identifier": {"system": own.site, "value": destination}}]
    if reasons:
        resource["note"] = [{"text": r} for r in reasons]
    return resource


def appointment_resource(
    request: dict[str, Any], appointment: Appointment, *, booked_by: str | None
) -> dict[str, Any]:
    """A booked appointment as BaRS carries it to the sender: a FHIR Appointment based on the
    referral, with its start, its mode and its place in words (no patient detail)."""
    ns = uuid5(UUID(request["id"]), f"appointment:{appointment.starts_at.isoformat()}")
    return {
        "resourceType": "Appointment",
        "id": str(ns),
        "status": "booked",
        "basedOn": [{"reference": f"urn:uuid:{request['id']}"}],
        "serviceCategory": [{"text": _APPOINTMENT_TYPE[appointment.mode]}],
        "start": appointment.starts_at.isoformat(),
        "description": appointment.place,
        "participant": [
            {
                "actor": {"display": booked_by or "The clinic"},
                "status": "accepted",
            }
        ],
    }


def response_message(
    own: OwnSystems,
    *,
    name: str,
    request: dict[str, Any],
    at: datetime,
    responding_to: str | None = None,
    appointment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `servicerequest-response` message whose focus is the referral (`request`): as the
    synchronous answer to an accepted message (`responding_to` its id, code `ok`), or later,
    to the sender's own endpoint. Its ids derive from the referral and `name`, so that the
    same answer, or the same delivery, is the same message."""
    ns = uuid5(UUID(request["id"]), name)
    request_url = f"urn:uuid:{request['id']}"
    return {
        "resourceType": "Bundle",
        "id": str(uuid5(ns, "bundle")),
        "meta": {"profile": [_PROFILE]},
        "type": "message",
        "timestamp": at.isoformat(),
        "entry": [
            {
                "fullUrl": urn(ns, "header"),
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": str(uuid5(ns, "header")),
                    "eventCoding": {"system": EVENT_SYSTEMS[0], "code": RESPONSE_EVENT},
                    "source": {"endpoint": own.service},
                    **(
                        {"response": {"identifier": responding_to, "code": "ok"}}
                        if responding_to
                        else {}
                    ),
                    "focus": [{"reference": request_url}],
                },
            },
            {"fullUrl": request_url, "resource": request},
            *(
                [{"fullUrl": f"urn:uuid:{appointment['id']}", "resource": appointment}]
                if appointment
                else []
            ),
        ],
    }
