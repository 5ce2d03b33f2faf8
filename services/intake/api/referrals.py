"""`/v1/referrals`: the API professional systems call, authenticated per organisation."""

# No `from __future__ import annotations`: FastAPI must evaluate the route signatures, which
# name a dependency local to `referrals_api`.
import hashlib
import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem
from pydantic import BaseModel, ValidationError

from intake import service_layer
from intake.adapters import api_keys, referral_store
from intake.adapters.api_keys import ApiKey
from intake.api.body import read_json
from intake.api.problems import PROBLEM_JSON, Problem
from intake.domain.referral import NotYourOrganisation, RecordedDecision
from intake.ports import IdempotencyConflict, UnitOfWork
from shared.clock import today
from shared.contracts import ContactLookup, Contacts, PatientContact
from shared.database import Database
from shared.logging import correlation, get_logger
from shared.rate_limits import RateLimits
from shared.submission import ReferralSubmission, field_errors

log = get_logger(__name__)

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


class Accepted(BaseModel):
    referral_id: UUID
    tracking_reference: str
    status: str
    status_url: str


class ReferralStatus(BaseModel):
    referral_id: UUID
    tracking_reference: str
    service: str
    status: str
    received_at: datetime
    decision: RecordedDecision | None
    submission: dict[str, Any] | None = None


def _submission_body_schema() -> dict[str, Any]:
    # Refs point into this very spot of the OpenAPI document, where the schema's $defs sit.
    pointer = "#/paths/~1v1~1referrals/post/requestBody/content/application~1json/schema/$defs"
    schema = ReferralSubmission.model_json_schema(ref_template=pointer + "/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or a key that is unknown or revoked."},
    403: {"description": "The key's organisation may not do this."},
    413: {"description": "The body is larger than the limit."},
    415: {"description": "The body is not declared as application/json."},
    422: {"description": "Invalid submission: every failing field, with a plain message."},
}


def referrals_api(
    database: Database,
    unit_of_work: UnitOfWork,
    max_body_bytes: int,
    rate_limits: RateLimits,
    failed_key_limit: RateLimitItem,
) -> APIRouter:
    router = APIRouter(prefix="/v1/referrals", tags=["referrals"])
    bearer = HTTPBearer(auto_error=False, description="The organisation's API key.")

    async def api_key(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiKey:
        client = request.client.host if request.client else "unknown"
        wait = await rate_limits.exceeded("failed-api-key", client, failed_key_limit)
        if wait is not None:
            log.warning("api key attempts refused: too many failures from one client")
            raise Problem(
                429,
                "Too many requests with a wrong API key. Try again later.",
                headers={"Retry-After": str(wait)},
            )
        if credentials is not None:
            async with database.pool.acquire() as conn:
                key = await api_keys.authenticate(conn, credentials.credentials)
            if key is not None:
                return key
        await rate_limits.hit("failed-api-key", client, failed_key_limit)
        raise Problem(
            401,
            "A valid API key is required (Authorization: Bearer <key>).",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @router.post(
        "",
        status_code=202,
        response_model=Accepted,
        summary="Submit a referral (referral submission v1).",
        openapi_extra=_submission_body_schema(),
        responses={
            **_ERRORS,
            409: {"description": "Idempotency-Key reused for another body."},
            429: {"description": "Too many failed API keys from this address; see Retry-After."},
        },
    )
    async def submit(
        request: Request,
        response: Response,
        key: Annotated[ApiKey, Depends(api_key)],
        idempotency_key: Annotated[str | None, Header()] = None,
        x_correlation_id: Annotated[str | None, Header()] = None,
    ) -> Accepted:
        if key.scope != "referrer":
            raise Problem(403, "This key may not submit referrals.")
        correlation_id = _correlation_id(x_correlation_id)
        with correlation(correlation_id):
            submission = _parse(await read_json(request, max_body_bytes))
            idempotency = None
            if idempotency_key is not None:
                if not _IDEMPOTENCY_KEY.match(idempotency_key):
                    raise Problem(
                        422,
                        "The request is not valid.",
                        [
                            {
                                "field": "Idempotency-Key",
                                "message": "Use 1 to 200 letters, "
                                "digits and the characters _ . : -",
                            }
                        ],
                    )
                idempotency = (idempotency_key, _fingerprint(submission))
            try:
                submitted = await service_layer.submit_professional(
                    unit_of_work,
                    submission,
                    api_key=key,
                    idempotency=idempotency,
                    correlation_id=correlation_id,
                    today=today(),
                )
            except NotYourOrganisation as error:
                raise Problem(
                    403,
                    "The referral is not from this key's organisation.",
                    [{"field": "referrer.organisation_code", "message": str(error)}],
                ) from error
            except IdempotencyConflict as error:
                raise Problem(409, str(error)) from error
        status_url = f"/v1/referrals/{submitted.referral_id}"
        response.headers["Location"] = status_url
        if submitted.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return Accepted(
            referral_id=submitted.referral_id,
            tracking_reference=submitted.tracking_reference,
            status="received",
            status_url=status_url,
        )

    @router.get(
        "/{referral_id}",
        response_model=ReferralStatus,
        summary="A referral's status and routing outcome: for the organisation that made it,"
        " and for the clinic it was routed to (which also sees the submission).",
        responses={401: _ERRORS[401], 404: {"description": "No such referral for this key."}},
    )
    async def status(referral_id: UUID, key: Annotated[ApiKey, Depends(api_key)]) -> ReferralStatus:
        clinic = key.scope == "clinic"
        async with database.pool.acquire() as conn:
            stored = await referral_store.get(
                conn,
                referral_id,
                organisation_code=None if clinic else key.organisation_code,
                destination=key.organisation_code if clinic else None,
            )
            details = (
                await referral_store.submission(conn, referral_id) if stored and clinic else None
            )
        if stored is None:  # someone else's referral looks exactly like no referral
            raise Problem(404, "No referral with this id is yours to see.")
        if clinic:
            log.info("referral read by clinic", referral_id=str(referral_id), key_id=key.key_id)
        decision = (  # decisions kept before the service was recorded with them lack it
            RecordedDecision.model_validate({"service": stored.service, **stored.decision})
            if stored.decision
            else None
        )
        return ReferralStatus(
            referral_id=stored.referral_id,
            tracking_reference=stored.tracking_reference,
            service=stored.service,
            status=stored.status,
            received_at=stored.received_at,
            decision=decision,
            submission=details,
        )

    @router.post(
        "/contacts",
        response_model=Contacts,
        summary="How to reach the patients of a batch of referrals: notifier key only, logged.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ContactLookup.model_json_schema()}},
            }
        },
        responses={401: _ERRORS[401], 403: _ERRORS[403], 413: _ERRORS[413], 422: _ERRORS[422]},
    )
    async def contacts(request: Request, key: Annotated[ApiKey, Depends(api_key)]) -> Contacts:
        if key.scope != "notifier":
            raise Problem(403, "Only the notifier may read contact details.")
        try:
            lookup = ContactLookup.model_validate(await read_json(request, max_body_bytes))
        except ValidationError as error:
            raise Problem(422, "The lookup is not valid.", field_errors(error)) from error
        wanted = list(dict.fromkeys(lookup.referral_ids))
        async with database.pool.acquire() as conn:
            found = await referral_store.contacts(conn, wanted)
        log.info(
            "patient contacts read",
            referral_ids=[str(i) for i in found],
            unknown=len(wanted) - len(found),
            key_id=key.key_id,
        )
        return Contacts(
            contacts={i: PatientContact.model_validate(c) for i, c in found.items()},
            unknown=[i for i in wanted if i not in found],
        )

    return router


def _parse(data: Any) -> ReferralSubmission:
    try:
        return ReferralSubmission.model_validate(data, context={"today": today()})
    except ValidationError as error:
        errors = field_errors(error)
        log.info("referral refused", errors=errors)
        raise Problem(422, "The referral is not valid.", errors) from error


def _fingerprint(submission: ReferralSubmission) -> bytes:
    """The same referral however its JSON was spaced or ordered."""
    canonical = json.dumps(submission.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).digest()


def _correlation_id(supplied: str | None) -> str:
    if supplied and _CORRELATION_ID.match(supplied):
        return supplied
    return str(uuid.uuid4())


__all__ = ["PROBLEM_JSON", "referrals_api"]
