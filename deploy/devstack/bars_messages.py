"""A BaRS referral message built from a submission v1: the inverse of `inbound`, for senders'
tests, the property round trip and the sample messages. (What both intake and the notifier
write, a referral as a ServiceRequest and the message carrying it, is in `shared.bars`.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from shared.bars import EVENT_SYSTEMS, NHS_NUMBER, REFERRAL_EVENT, coding, urn
from shared.bars_mapping import BarsMapping
from shared.submission import Clinical, ReferralSubmission

_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_FHIR_GENDER = {"female": "female", "male": "male", "intersex": "other", "not-known": "unknown"}


def referral_message(
    submission: ReferralSubmission,
    mapping: BarsMapping,
    *,
    message_id: UUID,
    sent_at: datetime,
    reason: str = "new",
    status: str = "active",
    service_request_id: UUID | None = None,
    identifiers: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A BaRS `servicerequest-request` message carrying the submission (`reason` "update" and
    `status` "revoked" make the cancelling update BaRS describes)."""
    ns = message_id
    request_id = service_request_id or uuid5(ns, "service-request")
    urls = {
        name: urn(ns, name)
        for name in ("header", "service", "patient", "role", "practitioner", "organisation")
    }
    request_url = f"urn:uuid:{request_id}"
    referrer, clinical = submission.referrer, submission.clinical
    facts = clinical_entries(clinical, mapping, urls["patient"], ns)
    ods = mapping.ods_organisation_systems[0]
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": urls["header"],
            "resource": {
                "resourceType": "MessageHeader",
                "id": str(message_id),
                "eventCoding": {"system": EVENT_SYSTEMS[0], "code": REFERRAL_EVENT},
                "destination": [{"endpoint": f"{mapping.own.service}|{submission.service}"}],
                "sender": {"reference": urls["organisation"]},
                "source": {"name": "Referring system", "endpoint": "urn:referring-system"},
                "reason": coding("https://fhir.nhs.uk/CodeSystem/message-reason-bars", reason),
                "focus": [{"reference": request_url}],
            },
        },
        {
            "fullUrl": request_url,
            "resource": {
                "resourceType": "ServiceRequest",
                "id": str(request_id),
                **({"identifier": identifiers} if identifiers else {}),
                "status": status,
                "intent": "order",
                "subject": {"reference": urls["patient"]},
                "authoredOn": sent_at.isoformat(),
                "requester": {"reference": urls["role"]},
                "performer": [{"reference": urls["service"]}],
                "supportingInfo": [{"reference": e["fullUrl"]} for e in facts],
                "note": [{"text": clinical.reason}],
            },
        },
        {
            "fullUrl": urls["service"],
            "resource": {
                "resourceType": "HealthcareService",
                "identifier": [{"system": mapping.own.service, "value": submission.service}],
                "active": True,
            },
        },
        {"fullUrl": urls["patient"], "resource": _patient(submission, mapping)},
        {
            "fullUrl": urls["role"],
            "resource": {
                "resourceType": "PractitionerRole",
                "practitioner": {"reference": urls["practitioner"]},
                "organization": {"reference": urls["organisation"]},
                "code": [_role_code(referrer.role.value, mapping)],
            },
        },
        {
            "fullUrl": urls["practitioner"],
            "resource": {
                "resourceType": "Practitioner",
                **({"name": [{"text": referrer.name}]} if referrer.name else {}),
                **(
                    {"telecom": [{"system": "email", "value": referrer.contact_email}]}
                    if referrer.contact_email
                    else {}
                ),
            },
        },
        {
            "fullUrl": urls["organisation"],
            "resource": {
                "resourceType": "Organization",
                "identifier": [{"system": ods, "value": referrer.organisation_code}],
            },
        },
        *facts,
    ]
    return {
        "resourceType": "Bundle",
        "id": str(uuid5(ns, "bundle")),
        "meta": {"profile": ["https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"]},
        "type": "message",
        "timestamp": sent_at.isoformat(),
        "entry": entries,
    }


def _patient(submission: ReferralSubmission, mapping: BarsMapping) -> dict[str, Any]:
    patient = submission.patient
    telecom = [
        *(
            [{"system": "phone", "use": "mobile", "value": patient.mobile}]
            if patient.mobile
            else []
        ),
        *([{"system": "email", "value": patient.email}] if patient.email else []),
    ]
    address: dict[str, Any] = {"use": "home", "postalCode": patient.postcode}
    if patient.address is not None:
        address["line"] = list(patient.address.lines)
    return {
        "resourceType": "Patient",
        "extension": [{"url": mapping.own.sex_at_birth, "valueCode": patient.sex_at_birth}],
        "identifier": (
            [{"system": NHS_NUMBER, "value": patient.nhs_number}] if patient.nhs_number else []
        ),
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": _FHIR_GENDER[patient.sex_at_birth],
        "birthDate": patient.date_of_birth.isoformat(),
        "address": [address],
        **({"telecom": telecom} if telecom else {}),
    }


def _role_code(role: str, mapping: BarsMapping) -> dict[str, Any]:
    standard = next((r for r in mapping.referrer_roles if r.role.value == role), None)
    if standard is not None:
        return coding(standard.system, standard.code)
    return coding(mapping.own.referrer_role, role)


def _condition_code(condition: str, mapping: BarsMapping) -> dict[str, Any]:
    standard = next((c for c in mapping.conditions if c.condition == condition), None)
    if standard is not None:
        return coding(standard.system, standard.code)
    return coding(mapping.own.condition, condition)


def clinical_entries(
    clinical: Clinical, mapping: BarsMapping, patient_url: str, ns: UUID
) -> list[dict[str, Any]]:
    """The clinical facts routing reads, as bundle entries about the patient at
    `patient_url`: Observations (pregnancy status, its dates, our own facts), then a
    Condition per condition; standard codes where the mapping lists one, else ours."""
    conditions = [
        {
            "fullUrl": urn(ns, f"condition-{code}"),
            "resource": {
                "resourceType": "Condition",
                "clinicalStatus": coding(_CONDITION_CLINICAL, "active"),
                "code": _condition_code(code, mapping),
                "subject": {"reference": patient_url},
            },
        }
        for code in clinical.conditions
    ]
    return [*_observations(clinical, mapping, patient_url, ns), *conditions]


def _observations(
    clinical: Clinical, mapping: BarsMapping, patient_url: str, ns: UUID
) -> list[dict[str, Any]]:
    status = clinical.pregnancy_status.value
    listed = next((v for v in mapping.pregnancy_status.values if v.status.value == status), None)
    status_code = mapping.pregnancy_status.codes[0]
    values: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            "pregnancy-status",
            coding(status_code.system, status_code.code),
            {
                "valueCodeableConcept": coding(listed.system, listed.code)
                if listed
                else coding(mapping.own.pregnancy_status, status)
            },
        )
    ]
    dated = (
        ("expected-delivery-date", clinical.expected_delivery_date, mapping.expected_delivery_date),
        ("delivery-date", clinical.delivery_date, mapping.delivery_date),
    )
    for name, when, codes in dated:
        if when is not None:
            values.append(
                (name, coding(codes[0].system, codes[0].code), {"valueDateTime": when.isoformat()})
            )
    if clinical.completed_talking_therapies is not None:
        values.append(
            (
                "completed-talking-therapies",
                coding(mapping.own.observation, "completed-talking-therapies"),
                {"valueBoolean": clinical.completed_talking_therapies},
            )
        )
    if clinical.prior_approval_reference is not None:
        values.append(
            (
                "prior-approval-reference",
                coding(mapping.own.observation, "prior-approval-reference"),
                {"valueString": clinical.prior_approval_reference},
            )
        )
    return [
        {
            "fullUrl": urn(ns, name),
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": code,
                "subject": {"reference": patient_url},
                **value,
            },
        }
        for name, code, value in values
    ]
