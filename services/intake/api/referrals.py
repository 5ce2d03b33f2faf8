"""`/v1/referrals`: professional systems submit referrals and read them; the clinic a
referral was routed to reads it too (with its submission); the notifier reads contacts."""

# No `from __future__ import annotations`: FastAPI must evaluate the route signatures, which
# name dependencies local to `referrals_api`.
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ValidationError

from intake import service_layer, views
from intake.adapters.api_keys import ApiKey
from intake.api.errors import ANSWERS, RefusingRoute
from intake.ports import UnitOfWork
from intake.views import ReferralStatus, Viewer
from intake.web.body import read_json
from intake.web.keys import Keys
from intake.web.openapi import body
from intake.web.problems import Problem
from intake.web.request_headers import checked_idempotency_key, correlation_id, fingerprint
from shared.clock import today
from shared.contracts import ContactLookup, Contacts, PatientContact, ReferrerRole
from shared.database import Database
from shared.directory import Directory
from shared.logging import correlation as bound_correlation
from shared.logging import get_logger
from shared.submission import ReferralSubmission, field_errors

log = get_logger(__name__)


class Accepted(BaseModel):
    referral_id: UUID
    tracking_reference: str
    status: str
    status_url: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: ANSWERS[code] for code in (401, 403, 413, 415, 422)
}


def referrals_api(
    database: Database,
    unit_of_work: UnitOfWork,
    directory: Directory,
    keys: Keys,
    max_body_bytes: int,
) -> APIRouter:
    router = APIRouter(prefix="/v1/referrals", tags=["referrals"], route_class=RefusingRoute)
    together = service_layer.StoredTogether(unit_of_work)

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
        key: Annotated[ApiKey, Depends(keys.referrer)],
        idempotency_key: Annotated[str | None, Header()] = None,
        x_correlation_id: Annotated[str | None, Header()] = None,
    ) -> Accepted:
        correlation = correlation_id(x_correlation_id)
        with bound_correlation(correlation):
            submission = parse_submission(await read_json(request, max_body_bytes))
            key_given = checked_idempotency_key(idempotency_key)
            submitted = await service_layer.submit_professional(
                unit_of_work,
                submission,
                api_key=key,
                idempotency=(key_given, fingerprint(submission)) if key_given else None,
                correlation_id=correlation,
                today=today(),
                together=together,
            )
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
    async def status(
        referral_id: UUID, key: Annotated[ApiKey, Depends(keys.any)]
    ) -> ReferralStatus:
        viewer = Viewer.of(key)
        clinic = viewer.site is not None  # the clinic that holds it also sees the submission
        found = await views.referral(
            database, referral_id, viewer, directory, with_submission=clinic
        )
        if found is None:  # someone else's referral looks exactly like no referral
            raise Problem(404, "No referral with this id is yours to see.")
        if clinic:
            log.info("referral read by clinic", referral_id=str(referral_id), key_id=key.key_id)
        return found

    @router.post(
        "/contacts",
        response_model=Contacts,
        summary="How to reach the patients of a batch of referrals: notifier key only, logged.",
        openapi_extra=body(ContactLookup),
        responses={401: _ERRORS[401], 403: _ERRORS[403], 413: _ERRORS[413], 422: _ERRORS[422]},
    )
    async def contacts(
        request: Request, key: Annotated[ApiKey, Depends(keys.notifier)]
    ) -> Response:
        try:
            lookup = ContactLookup.model_validate(await read_json(request, max_body_bytes))
        except ValidationError as error:
            raise Problem(422, "The lookup is not valid.", field_errors(error)) from error
        wanted = list(dict.fromkeys(lookup.referral_ids))
        found = await views.contacts(database, wanted)
        log.info(
            "patient contacts read",
            referral_ids=[str(i) for i in found],
            unknown=len(wanted) - len(found),
            key_id=key.key_id,
        )
        answer = Contacts(
            contacts={i: PatientContact.model_validate(c) for i, c in found.items()},
            unknown=[i for i in wanted if i not in found],
        )
        # Checked once, here, against the documented model (`response_model`); FastAPI's own
        # pass would take the answer apart and check it again for every batch the notifier reads.
        return Response(answer.model_dump_json(), media_type="application/json")

    return router


def parse_submission(data: Any) -> ReferralSubmission:
    """A v1 submission, validated as of today, or 422 with every failing field. A key is a
    professional's: a woman refers herself through the form."""
    try:
        submission = ReferralSubmission.model_validate(data, context={"today": today()})
    except ValidationError as error:
        errors = field_errors(error)
        log.info("referral refused", errors=errors)
        raise Problem(422, "The referral is not valid.", errors) from error
    if submission.referrer.role is ReferrerRole.SELF:
        message = "A woman refers herself through the self-referral form, not with a key."
        errors = [{"field": "referrer.role", "message": message}]
        raise Problem(422, "The referral is not valid.", errors)
    return submission
