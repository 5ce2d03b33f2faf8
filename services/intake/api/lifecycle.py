"""A referral's life over HTTP: the clinic accepts or returns what was routed to it, the
referrer cancels or amends what it sent, and a clinic lists its worklist. Every action goes
through the state machine: one that is not allowed where the referral stands is a 409 that
says where it stands."""

# No `from __future__ import annotations`: FastAPI must evaluate the route signatures.
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from intake import service_layer
from intake.adapters.api_keys import ApiKey
from intake.adapters.referral_store import parse_cursor, worklist
from intake.api.auth import ApiKeyDependency
from intake.api.body import read_json
from intake.api.openapi import body
from intake.api.problems import ANSWERS, Problem
from intake.api.referrals import parse_submission
from intake.api.request_headers import checked_idempotency_key, correlation_id, fingerprint
from intake.domain.lifecycle import Accept, Cancel, IllegalTransition, Return
from intake.domain.referral import NotYourOrganisation
from intake.ports import IdempotencyConflict, UnitOfWork
from intake.service_layer import Actor, Done, NotFound, UnknownReason
from intake.service_layer.lifecycle import Idempotency
from shared.clock import today
from shared.contracts import ReasonCode, ReferralState
from shared.database import Database
from shared.directory import Directory
from shared.submission import ReferralSubmission, field_errors

MAX_PAGE = 100


class _ReasonGiven(BaseModel):
    """Why a referral is returned or cancelled."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, as in a submission

    reason_code: ReasonCode = Field(description="A code from the directory's list.")


class ReturnRequest(_ReasonGiven):
    """The clinic returns a referral: the reason decides whether to the referrer or to
    triage. The codes are the directory's `return_reasons`."""


class CancelRequest(_ReasonGiven):
    """The referrer cancels a referral. The codes are the directory's `cancel_reasons`."""


class ActionResult(BaseModel):
    referral_id: UUID
    status: ReferralState
    rerouted: bool | None = Field(
        default=None, description="For an amendment: whether routing runs again."
    )


class WorklistItem(BaseModel):
    referral_id: UUID
    tracking_reference: str
    service: str
    status: ReferralState
    urgent: bool
    received_at: datetime
    decided_at: datetime | None


class Worklist(BaseModel):
    referrals: list[WorklistItem]
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


_ANSWERS: dict[int | str, dict[str, Any]] = {
    code: ANSWERS[code] for code in (401, 403, 404, 409, 422)
}


def lifecycle_api(
    database: Database,
    unit_of_work: UnitOfWork,
    directory: Directory,
    api_key: ApiKeyDependency,
    max_body_bytes: int,
) -> APIRouter:
    router = APIRouter(tags=["lifecycle"])

    def clinic(key: ApiKey) -> Actor:
        if key.scope != "clinic":
            raise Problem(403, "Only a clinic's key may do this.")
        return Actor("clinic", key.organisation_code)

    def referrer(key: ApiKey) -> Actor:
        if key.scope != "referrer":
            raise Problem(403, "Only the referrer's key may do this.")
        return Actor("referrer", key.organisation_code)

    @router.post(
        "/v1/referrals/{referral_id}/accept",
        response_model=ActionResult,
        summary="The clinic accepts a referral routed to it: it will contact the woman.",
        responses=_ANSWERS,
    )
    async def accept(
        referral_id: UUID, response: Response, key: Annotated[ApiKey, Depends(api_key)]
    ) -> ActionResult:
        actor = clinic(key)
        done = await _acting(
            service_layer.act(unit_of_work, referral_id, Accept(str(actor.id)), actor, directory)
        )
        return _answer(done, response)

    @router.post(
        "/v1/referrals/{referral_id}/return",
        response_model=ActionResult,
        summary="The clinic returns a referral routed to it, with a reason code: to the "
        "referrer, or to triage to find the right site (the reason decides which).",
        responses=_ANSWERS,
        openapi_extra=body(ReturnRequest),
    )
    async def return_(
        referral_id: UUID,
        request: Request,
        response: Response,
        key: Annotated[ApiKey, Depends(api_key)],
    ) -> ActionResult:
        actor = clinic(key)
        reason = _reason(ReturnRequest, await read_json(request, max_body_bytes))
        command = Return(str(actor.id), "referrer")  # where to: from the reason code
        done = await _acting(
            service_layer.act(
                unit_of_work,
                referral_id,
                command,
                actor,
                directory,
                reason_code=reason.reason_code,
            )
        )
        return _answer(done, response)

    @router.post(
        "/v1/referrals/{referral_id}/cancel",
        response_model=ActionResult,
        summary="The referrer cancels a referral it made (a reason code), while it is not "
        "final. Idempotency-Key as for a submission.",
        responses=_ANSWERS,
        openapi_extra=body(CancelRequest),
    )
    async def cancel(
        referral_id: UUID,
        request: Request,
        response: Response,
        key: Annotated[ApiKey, Depends(api_key)],
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> ActionResult:
        actor = referrer(key)
        reason = _reason(CancelRequest, await read_json(request, max_body_bytes))
        idempotency = _idempotency(key, idempotency_key, "cancel", str(referral_id), reason)
        return _answer(
            await _acting(
                service_layer.act(
                    unit_of_work,
                    referral_id,
                    Cancel("referrer"),
                    actor,
                    directory,
                    reason_code=reason.reason_code,
                    idempotency=idempotency,
                )
            ),
            response,
        )

    @router.put(
        "/v1/referrals/{referral_id}",
        response_model=ActionResult,
        summary="The referrer amends a referral it made with a full, corrected submission v1 "
        "(validated as a new one). Routing runs again only when a fact it depends on changed.",
        responses=_ANSWERS,
        openapi_extra=body(ReferralSubmission),
    )
    async def amend(
        referral_id: UUID,
        request: Request,
        response: Response,
        key: Annotated[ApiKey, Depends(api_key)],
        idempotency_key: Annotated[str | None, Header()] = None,
        x_correlation_id: Annotated[str | None, Header()] = None,
    ) -> ActionResult:
        actor = referrer(key)
        submission = parse_submission(await read_json(request, max_body_bytes))
        idempotency = _idempotency(key, idempotency_key, "amend", str(referral_id), submission)
        return _answer(
            await _acting(
                service_layer.amend(
                    unit_of_work,
                    referral_id,
                    submission,
                    actor,
                    correlation_id=correlation_id(x_correlation_id),
                    today=today(),
                    idempotency=idempotency,
                )
            ),
            response,
        )

    @router.get(
        "/v1/clinic/referrals",
        response_model=Worklist,
        summary="The clinic's worklist: the referrals routed to its site, oldest first.",
        responses={401: _ANSWERS[401], 403: _ANSWERS[403]},
    )
    async def clinic_worklist(
        key: Annotated[ApiKey, Depends(api_key)],
        state: Annotated[Literal["routed", "accepted"], Query()] = "routed",
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        after: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Worklist:
        actor = clinic(key)
        async with database.pool.acquire() as conn:
            rows, following = await worklist(
                conn, str(actor.id), ReferralState(state), limit, _cursor(after)
            )
        return Worklist(referrals=[WorklistItem(**r) for r in rows], next=following)

    return router


async def _acting(action: Any) -> Done:
    """Run a use case; its refusals as HTTP answers."""
    try:
        done: Done = await action
    except NotFound as error:
        raise Problem(404, "No referral with this id is yours to see.") from error
    except UnknownReason as error:
        raise Problem(
            422, "The reason is not known.", [{"field": "reason_code", "message": str(error)}]
        ) from error
    except IllegalTransition as error:
        raise Problem(409, error.why, extra={"current_state": error.current.value}) from error
    except IdempotencyConflict as error:
        raise Problem(409, str(error)) from error
    except NotYourOrganisation as error:
        raise Problem(
            403,
            "The referral is not from this key's organisation.",
            [{"field": "referrer.organisation_code", "message": str(error)}],
        ) from error
    return done


def _idempotency(
    key: ApiKey, idempotency_key: str | None, *request: BaseModel | str
) -> Idempotency | None:
    """(organisation, checked key, fingerprint of the request) when a key was given."""
    given = checked_idempotency_key(idempotency_key)
    return (key.organisation_code, given, fingerprint(*request)) if given else None


def _answer(done: Done, response: Response) -> ActionResult:
    if done.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ActionResult(referral_id=done.referral_id, status=done.status, rerouted=done.rerouted)


def _reason(model: type[_ReasonGiven], data: Any) -> _ReasonGiven:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Problem(422, "The request is not valid.", field_errors(error)) from error


def _cursor(after: str | None) -> tuple[datetime, UUID] | None:
    try:
        return parse_cursor(after)
    except ValueError as error:
        raise Problem(
            422, "The request is not valid.", [{"field": "after", "message": "Not a cursor."}]
        ) from error
