"""`/v1/referrals`: the API professional systems call, authenticated per organisation."""

# No `from __future__ import annotations`: FastAPI must evaluate the route signatures, which
# name a dependency local to `referrals_api`.
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field, ValidationError

from intake import service_layer
from intake.adapters import referral_store
from intake.adapters.api_keys import ApiKey
from intake.api.auth import ApiKeyDependency
from intake.api.body import read_json
from intake.api.openapi import body
from intake.api.problems import ANSWERS, PROBLEM_JSON, Problem
from intake.api.request_headers import checked_idempotency_key, correlation_id, fingerprint
from intake.domain.referral import NotYourOrganisation, RecordedDecision
from intake.ports import IdempotencyConflict, UnitOfWork
from shared.clock import today
from shared.contracts import ContactLookup, Contacts, PatientContact, ReferrerRole
from shared.database import Database
from shared.logging import correlation as bound_correlation
from shared.logging import get_logger
from shared.submission import ReferralSubmission, field_errors

log = get_logger(__name__)


class Accepted(BaseModel):
    referral_id: UUID
    tracking_reference: str
    status: str
    status_url: str


class HistoryItem(BaseModel):
    """One step of the referral's life: what, by whom, when and why."""

    action: str = Field(description="decided, accepted, returned, cancelled or amended.")
    by: str = Field(description="router, clinic, referrer or patient.")
    by_id: str | None = Field(description="The site, the organisation, or who triaged it.")
    before: str
    after: str
    reason_code: str | None
    reason: str | None
    at: datetime


class ReferralStatus(BaseModel):
    referral_id: UUID
    tracking_reference: str
    service: str
    status: str
    received_at: datetime
    decision: RecordedDecision | None
    history: list[HistoryItem] = Field(description="Every step since it was received, in order.")
    submission: dict[str, Any] | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: ANSWERS[code] for code in (401, 403, 413, 415, 422)
}


def referrals_api(
    database: Database,
    unit_of_work: UnitOfWork,
    api_key: ApiKeyDependency,
    max_body_bytes: int,
) -> APIRouter:
    router = APIRouter(prefix="/v1/referrals", tags=["referrals"])

    @router.post(
        "",
        status_code=202,
        response_model=Accepted,
        summary="Submit a referral (referral submission v1).",
        openapi_extra=body(ReferralSubmission),
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
        correlation = correlation_id(x_correlation_id)
        with bound_correlation(correlation):
            submission = parse_submission(await read_json(request, max_body_bytes))
            key_given = checked_idempotency_key(idempotency_key)
            idempotency = (key_given, fingerprint(submission)) if key_given else None
            try:
                submitted = await service_layer.submit_professional(
                    unit_of_work,
                    submission,
                    api_key=key,
                    idempotency=idempotency,
                    correlation_id=correlation,
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
        steps = await service_layer.history(unit_of_work, referral_id)
        return ReferralStatus(
            history=[
                HistoryItem(
                    action=h.action,
                    by=h.actor,
                    by_id=h.actor_id,
                    before=h.before,
                    after=h.after,
                    reason_code=h.reason_code,
                    reason=h.reason,
                    at=h.at,
                )
                for h in steps
            ],
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
        openapi_extra=body(ContactLookup),
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


def parse_submission(data: Any) -> ReferralSubmission:
    """A v1 submission, validated as of today, or 422 with every failing field."""
    try:
        submission = ReferralSubmission.model_validate(data, context={"today": today()})
    except ValidationError as error:
        errors = field_errors(error)
        log.info("referral refused", errors=errors)
        raise Problem(422, "The referral is not valid.", errors) from error
    if submission.referrer.role is ReferrerRole.SELF:
        message = "A woman refers herself through the self-referral form, not with a key."
        raise Problem(
            422, "The referral is not valid.", [{"field": "referrer.role", "message": message}]
        )
    return submission


__all__ = ["PROBLEM_JSON", "referrals_api"]
