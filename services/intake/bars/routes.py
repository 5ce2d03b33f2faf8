"""`/FHIR/R4`: the Booking and Referral Standard's door into intake. A referral message is
mapped to a submission v1 and then taken exactly as the JSON API takes one (same validation,
storage, outbox and routing); a revoking update cancels through the referral lifecycle."""

# No `from __future__ import annotations`: FastAPI must evaluate the route signatures.
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from intake import service_layer, views
from intake.adapters.api_keys import ApiKey
from intake.bars import resources
from intake.bars.inbound import to_submission
from intake.bars.message import Message, read_message
from intake.bars.outcomes import FHIR_BASE, FHIR_JSON, refused_response
from intake.bars.refusals import Issue, Refused, bad, unprocessable
from intake.domain.lifecycle import Cancel, IllegalTransition
from intake.domain.referral import NotYourOrganisation
from intake.ports import IdempotencyConflict, UnitOfWork
from intake.service_layer import Actor, NotFound
from intake.views import Viewer
from intake.web.body import read_json
from intake.web.keys import Keys
from intake.web.openapi import answer, body
from intake.web.problems import Problem
from intake.web.request_headers import correlation_id
from shared.bars import response_message, service_request
from shared.bars_mapping import BarsMapping
from shared.clock import today
from shared.contracts import ReferralState
from shared.database import Database
from shared.directory import Directory
from shared.logging import correlation as bound_correlation
from shared.logging import get_logger

log = get_logger(__name__)
CONFORMANCE = Path(__file__).parent / "conformance"  # CapabilityStatement, definitions


# BaRS Core requires both of every request to a receiver, and mirrors them back; a request
# without either is refused 400 REC_BAD_REQUEST (naming the header). Plain text only: they go
# into logs and back into headers.
_ID = r"^[A-Za-z0-9_.:-]{1,100}$"
RequestId = Annotated[
    str, Header(alias="X-Request-ID", pattern=_ID, description="Mirrored back (BaRS).")
]
CorrelationId = Annotated[
    str,
    Header(
        alias="X-Correlation-ID",
        pattern=_ID,
        description="The referral's correlation id, mirrored back and kept (BaRS).",
    ),
]


def _fhir_answer(model: type[BaseModel], description: str) -> dict[int | str, dict[str, Any]]:
    return answer(model, description, FHIR_JSON)


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "REC_BAD_REQUEST: the message breaks FHIR or BaRS structure."},
    401: {"description": "REC_UNAUTHORIZED: no API key, or one unknown or revoked."},
    403: {"description": "REC_FORBIDDEN: not the key's organisation, or not a referrer's key."},
    404: {"description": "REC_NOT_FOUND: a revoke names no referral of this organisation."},
    409: {
        "description": "REC_CONFLICT: the message id was taken with other content, or the "
        "referral is no longer active."
    },
    413: {"description": "REC_BAD_REQUEST: the body is larger than the limit."},
    415: {"description": "REC_BAD_REQUEST: the body is not application/fhir+json."},
    422: {"description": "REC_UNPROCESSABLE_ENTITY: what cannot be mapped to a referral."},
    429: {"description": "REC_TOO_MANY_REQUESTS: see Retry-After."},
}


def _conformance(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CONFORMANCE / name).read_text())
    return loaded


def fhir_api(
    database: Database,
    unit_of_work: UnitOfWork,
    directory: Directory,
    mapping: BarsMapping,
    keys: Keys,
    max_body_bytes: int,
) -> APIRouter:
    router = APIRouter(prefix=FHIR_BASE, tags=["FHIR (BaRS)"])
    capability = _conformance("CapabilityStatement.json")
    definition = _conformance("MessageDefinition.json")

    @router.post(
        "/$process-message",
        summary="Take a BaRS message: a referral (servicerequest-request, reason new) or its "
        "cancellation (an update whose ServiceRequest is revoked).",
        response_class=FhirResponse,
        openapi_extra=body(resources.Bundle, FHIR_JSON),
        responses={
            **_fhir_answer(
                resources.Bundle,
                "The response message (servicerequest-response): MessageHeader.response and "
                "the referral as a ServiceRequest. A repeat gets the same answer.",
            ),
            **_REFUSALS,
        },
    )
    async def process_message(
        request: Request,
        key: Annotated[ApiKey, Depends(keys.referrer)],
        x_request_id: RequestId,
        x_correlation_id: CorrelationId,
        nhsd_target_identifier: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        correlation = correlation_id(x_correlation_id)
        headers = _echo(x_request_id, x_correlation_id)
        with bound_correlation(correlation):
            try:
                message = read_message(await _read_body(request, max_body_bytes))
                if _revokes(message):
                    answer = await _revoke(message, key)
                else:
                    answer = await _refer(message, key, correlation)
            except Refused as refused:
                log.info(
                    "BaRS message refused",
                    status=refused.status,
                    expressions=[i.expression for i in refused.issues],
                )
                return refused_response(refused, headers)
        return JSONResponse(answer, media_type=FHIR_JSON, headers=headers)

    async def _refer(message: Message, key: ApiKey, correlation: str) -> dict[str, Any]:
        status = message.focus.data.get("status")
        if status != "active":
            raise Refused(
                [
                    bad(
                        message.focus.at("status"),
                        "A new referral's ServiceRequest is active.",
                        "value",
                    )
                ]
            )
        mapped = to_submission(message, mapping, today=today())
        try:
            submitted = await service_layer.submit_professional(
                unit_of_work,
                mapped.submission,
                api_key=key,
                idempotency=(f"bars:{message.message_id}", message.fingerprint()),
                correlation_id=correlation,
                today=today(),
                door="bars",
            )
        except NotYourOrganisation as error:
            raise Refused(
                [
                    Issue(
                        403,
                        "forbidden",
                        str(error),
                        mapped.origin("referrer.organisation_code"),
                    )
                ]
            ) from error
        except IdempotencyConflict as error:
            raise _already_processed(message) from error
        log.info(
            "BaRS referral taken",
            referral_id=str(submitted.referral_id),
            message_id=message.message_id,
            replayed=submitted.replayed,
        )
        return await _acknowledge(message, submitted.referral_id, ReferralState.RECEIVED, key)

    async def _revoke(message: Message, key: ApiKey) -> dict[str, Any]:
        if message.focus.data.get("status") != "revoked":
            raise Refused(
                [
                    unprocessable(
                        message.focus.at("status"),
                        "An update is taken only to cancel: its ServiceRequest is revoked.",
                    )
                ]
            )
        referral_id = _our_referral_id(message)
        org = key.organisation_code
        try:
            done = await service_layer.act(
                unit_of_work,
                referral_id,
                Cancel(by="referrer"),
                Actor("referrer", org),
                directory,
                reason_code=mapping.revoke_reason,
                idempotency=(org, f"bars:{message.message_id}", message.fingerprint()),
            )
        except NotFound as error:
            raise Refused(
                [
                    Issue(
                        404,
                        "not-found",
                        "No referral with this id is yours.",
                        message.focus.at("identifier"),
                    )
                ]
            ) from error
        except IllegalTransition as error:
            raise Refused(
                [
                    Issue(
                        409,
                        "conflict",
                        f"The referral is no longer active: it is {error.current.value}.",
                        message.focus.at("status"),
                    )
                ]
            ) from error
        except IdempotencyConflict as error:
            raise _already_processed(message) from error
        log.info("BaRS revoke taken", referral_id=str(referral_id), replayed=done.replayed)
        return await _acknowledge(message, referral_id, ReferralState(done.status.value), key)

    def _our_referral_id(message: Message) -> UUID:
        focus = message.focus
        candidates = [
            identifier.get("value")
            for identifier in focus.data.get("identifier") or []
            if identifier.get("system") == mapping.own.referral_id
        ] + [focus.data.get("id")]
        for candidate in candidates:
            try:
                return UUID(str(candidate))
            except ValueError:
                continue
        raise Refused(
            [
                bad(
                    focus.at("identifier"),
                    f"Name the referral by its identifier in {mapping.own.referral_id}, as our "
                    "acknowledgement gave it.",
                    "required",
                )
            ]
        )

    async def _acknowledge(
        message: Message, referral_id: UUID, state: ReferralState, key: ApiKey
    ) -> dict[str, Any]:
        view = await _service_request(referral_id, key.organisation_code, state=state)
        assert view is not None
        resource, received_at = view
        return response_message(
            mapping.own,
            name=f"answer:{message.message_id}",
            request=resource,
            at=received_at,
            responding_to=message.message_id,
        )

    async def _service_request(
        referral_id: UUID, organisation_code: str, *, state: ReferralState | None = None
    ) -> tuple[dict[str, Any], datetime] | None:
        """The organisation's referral as a ServiceRequest (as it stands, or as `state` for an
        answer that must not change), read as the JSON status is: no lock."""
        found = await views.referral(
            database,
            referral_id,
            Viewer.referrer(organisation_code),
            directory,
            with_submission=True,
        )
        if found is None:
            return None
        patient = (found.submission or {}).get("patient") or {}
        resource = service_request(
            mapping.own,
            referral_id=referral_id,
            tracking_reference=found.tracking_reference,
            state=state or found.status,
            nhs_number=patient.get("nhs_number"),
            authored_on=found.received_at,
            service=found.service,
            destination=found.held_by if state is None else None,
            reasons=[r.message for r in found.decision.reasons]
            if state is None and found.decision
            else None,
        )
        return resource, found.received_at

    @router.get(
        "/ServiceRequest/{referral_id}",
        summary="A referral as a ServiceRequest, for the organisation that sent it.",
        response_class=FhirResponse,
        responses={
            **_fhir_answer(resources.ServiceRequest, "The referral as it stands."),
            401: _REFUSALS[401],
            404: {"description": "No referral with this id is yours to see."},
        },
    )
    async def read_service_request(
        referral_id: str,
        key: Annotated[ApiKey, Depends(keys.any)],
        x_request_id: RequestId,
        x_correlation_id: CorrelationId,
    ) -> JSONResponse:
        headers = _echo(x_request_id, x_correlation_id)
        view = None
        try:
            wanted = UUID(referral_id)
        except ValueError:
            wanted = None
        if wanted is not None and key.scope == "referrer":
            view = await _service_request(wanted, key.organisation_code)
        if view is None:
            refused = Refused(
                [Issue(404, "not-found", "No referral with this id is yours to see.", None)]
            )
            return refused_response(refused, headers)
        return JSONResponse(view[0], media_type=FHIR_JSON, headers=headers)

    @router.get(
        "/metadata",
        summary="What this server supports (CapabilityStatement).",
        response_class=FhirResponse,
        responses=_fhir_answer(resources.CapabilityStatement, "The CapabilityStatement."),
    )
    async def metadata() -> JSONResponse:
        return JSONResponse(capability, media_type=FHIR_JSON)

    @router.get(
        "/MessageDefinition",
        summary="The messages this server takes (a searchset).",
        response_class=FhirResponse,
        responses=_fhir_answer(resources.Bundle, "A searchset of MessageDefinitions."),
    )
    async def message_definitions() -> JSONResponse:
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 1,
            "entry": [{"fullUrl": definition["url"], "resource": definition}],
        }
        return JSONResponse(bundle, media_type=FHIR_JSON)

    return router


def _revokes(message: Message) -> bool:
    return message.reason == "update" or message.focus.data.get("status") == "revoked"


def _already_processed(message: Message) -> Refused:
    return Refused(
        [
            Issue(
                409,
                "duplicate",
                "This message id was processed before, with other content.",
                message.header.at("id"),
            )
        ]
    )


def _echo(request_id: str | None, correlation: str | None) -> dict[str, str]:
    """The request's ids, mirrored back as BaRS asks (when they are plain, short text)."""
    echoed = {"X-Request-Id": request_id, "X-Correlation-Id": correlation}
    return {
        name: value
        for name, value in echoed.items()
        if value and len(value) <= 200 and value.isascii() and value.isprintable()
    }


async def _read_body(request: Request, limit: int) -> Any:
    try:
        return await read_json(request, limit, "application/fhir+json", "application/json")
    except Problem as problem:
        if problem.status != 422:
            raise
        why = problem.errors[0]["message"] if problem.errors else "The body is not valid JSON."
        raise Refused([bad("Bundle", why, "structure")]) from problem
