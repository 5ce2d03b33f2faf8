"""A referral's life over HTTP: the clinic accepts or returns what was routed to it, the
referrer cancels or amends what it sent, and a clinic lists its worklist. Every action goes
through the state machine: one that is not allowed where the referral stands is a 409 that
says where it stands."""

# No `from __future__ import annotations`: FastAPI must evaluate the route signatures.
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from intake import service_layer, views
from intake.adapters.api_keys import ApiKey
from intake.api.errors import ANSWERS, RefusingRoute
from intake.api.referrals import parse_submission
from intake.domain.lifecycle import (
    HELD,
    Accept,
    Book,
    Cancel,
    CancelAppointment,
    ClinicCommand,
    Discharge,
    NotContactable,
    RecordAttendance,
    Return,
)
from intake.ports import UnitOfWork
from intake.service_layer import Actor, Done
from intake.service_layer.lifecycle import Idempotency, Particulars
from intake.views import Viewer, Worklist
from intake.web.body import read_json
from intake.web.keys import Keys
from intake.web.openapi import body
from intake.web.problems import Problem
from intake.web.request_headers import checked_idempotency_key, correlation_id, fingerprint
from shared.clock import LONDON, today
from shared.contracts import Appointment, ReasonCode, ReferralState
from shared.database import Database
from shared.directory import Directory
from shared.submission import ReferralSubmission, field_errors

MAX_PAGE = 100
_Asked = TypeVar("_Asked", bound=BaseModel)
_NOTHING_MORE = Particulars()
# The states a clinic's worklist shows: those in which it holds a referral.
HeldState = Enum("HeldState", {s.name: s.value for s in HELD}, type=str)  # type: ignore[misc]
ROUTED = HeldState(ReferralState.ROUTED.value)


class _ReasonGiven(BaseModel):
    """Why a referral is returned or cancelled."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, as in a submission

    reason_code: ReasonCode = Field(description="A code from the directory's list.")


class ReturnRequest(_ReasonGiven):
    """The clinic returns a referral: the reason decides whether to the referrer or to
    triage. The codes are the directory's `return_reasons`."""


class CancelRequest(_ReasonGiven):
    """The referrer cancels a referral. The codes are the directory's `cancel_reasons`."""


class BookRequest(BaseModel):
    """The clinic books her appointment, changes it (booked again), or offers another after
    a missed one, where the service's policy allows."""

    model_config = ConfigDict(extra="forbid")

    appointment: Appointment


class NotContactableRequest(BaseModel):
    """The clinic could not reach her: when it tried. The referral goes back to the
    referrer."""

    model_config = ConfigDict(extra="forbid")

    attempts: list[AwareDatetime] = Field(
        min_length=1, max_length=20, description="When each attempt to reach her was made."
    )


class DischargeRequest(BaseModel):
    """Her care is complete: how it ended (the directory's `discharge_outcomes`)."""

    model_config = ConfigDict(extra="forbid")

    outcome_code: ReasonCode = Field(description="A code from the directory's list.")
    referred_to: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="For an outcome that refers her on: the service's name (never a person's).",
    )


class ActionResult(BaseModel):
    referral_id: UUID
    status: ReferralState
    rerouted: bool | None = Field(
        default=None, description="For an amendment: whether routing runs again."
    )


_ANSWERS: dict[int | str, dict[str, Any]] = {
    code: ANSWERS[code] for code in (401, 403, 404, 409, 422)
}


def lifecycle_api(
    database: Database,
    unit_of_work: UnitOfWork,
    directory: Directory,
    keys: Keys,
    max_body_bytes: int,
) -> APIRouter:
    router = APIRouter(tags=["lifecycle"], route_class=RefusingRoute)
    ClinicKey = Annotated[ApiKey, Depends(keys.clinic)]
    ReferrerKey = Annotated[ApiKey, Depends(keys.referrer)]

    @router.post(
        "/v1/referrals/{referral_id}/accept",
        response_model=ActionResult,
        summary="The clinic accepts a referral routed to it: it will contact the woman.",
        responses=_ANSWERS,
    )
    async def accept(referral_id: UUID, response: Response, key: ClinicKey) -> ActionResult:
        actor = Actor("clinic", key.organisation_code)
        command = Accept(key.organisation_code)
        done = await service_layer.act(unit_of_work, referral_id, command, actor, directory)
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
        referral_id: UUID, request: Request, response: Response, key: ClinicKey
    ) -> ActionResult:
        reason = _reason(ReturnRequest, await read_json(request, max_body_bytes))
        done = await service_layer.act(
            unit_of_work,
            referral_id,
            Return(key.organisation_code, "referrer"),  # where to: from the reason code
            Actor("clinic", key.organisation_code),
            directory,
            reason_code=reason.reason_code,
        )
        return _answer(done, response)

    async def clinic_step(
        referral_id: UUID,
        response: Response,
        key: ApiKey,
        command: ClinicCommand,
        *,
        reason_code: str | None = None,
        particulars: Particulars = _NOTHING_MORE,
    ) -> ActionResult:
        done = await service_layer.act(
            unit_of_work,
            referral_id,
            command,
            Actor("clinic", key.organisation_code),
            directory,
            reason_code=reason_code,
            particulars=particulars,
        )
        return _answer(done, response)

    @router.post(
        "/v1/referrals/{referral_id}/book",
        response_model=ActionResult,
        summary="The clinic books her appointment (accepted), changes it (booked), or offers "
        "another after a missed one (did-not-attend, where the service's policy allows).",
        responses=_ANSWERS,
        openapi_extra=body(BookRequest),
    )
    async def book(
        referral_id: UUID, request: Request, response: Response, key: ClinicKey
    ) -> ActionResult:
        asked = _parsed(BookRequest, await read_json(request, max_body_bytes))
        particulars = Particulars(appointment=asked.appointment)
        command = Book(key.organisation_code)
        return await clinic_step(referral_id, response, key, command, particulars=particulars)

    @router.post(
        "/v1/referrals/{referral_id}/cancel-appointment",
        response_model=ActionResult,
        summary="The clinic cancels her appointment: the referral waits to be booked again.",
        responses=_ANSWERS,
    )
    async def cancel_appointment(
        referral_id: UUID, response: Response, key: ClinicKey
    ) -> ActionResult:
        command = CancelAppointment(key.organisation_code)
        return await clinic_step(referral_id, response, key, command)

    @router.post(
        "/v1/referrals/{referral_id}/attended",
        response_model=ActionResult,
        summary="She came to her appointment; she stays under the clinic's care until discharged.",
        responses=_ANSWERS,
    )
    async def attended(referral_id: UUID, response: Response, key: ClinicKey) -> ActionResult:
        command = RecordAttendance(key.organisation_code, attended=True)
        return await clinic_step(referral_id, response, key, command)

    @router.post(
        "/v1/referrals/{referral_id}/did-not-attend",
        response_model=ActionResult,
        summary="She did not come to her appointment.",
        responses=_ANSWERS,
    )
    async def did_not_attend(referral_id: UUID, response: Response, key: ClinicKey) -> ActionResult:
        command = RecordAttendance(key.organisation_code, attended=False)
        return await clinic_step(referral_id, response, key, command)

    @router.post(
        "/v1/referrals/{referral_id}/not-contactable",
        response_model=ActionResult,
        summary="The clinic could not reach her (when it tried): the referral goes back to "
        "the referrer.",
        responses=_ANSWERS,
        openapi_extra=body(NotContactableRequest),
    )
    async def not_contactable(
        referral_id: UUID, request: Request, response: Response, key: ClinicKey
    ) -> ActionResult:
        asked = _parsed(NotContactableRequest, await read_json(request, max_body_bytes))
        particulars = Particulars(attempts=tuple(asked.attempts))
        command = NotContactable(key.organisation_code)
        return await clinic_step(referral_id, response, key, command, particulars=particulars)

    @router.post(
        "/v1/referrals/{referral_id}/discharge",
        response_model=ActionResult,
        summary="Her care is complete (after she attended, or missed her appointment): the "
        "outcome closes the loop with the referrer.",
        responses=_ANSWERS,
        openapi_extra=body(DischargeRequest),
    )
    async def discharge(
        referral_id: UUID, request: Request, response: Response, key: ClinicKey
    ) -> ActionResult:
        asked = _parsed(DischargeRequest, await read_json(request, max_body_bytes))
        particulars = Particulars(referred_to=asked.referred_to)
        return await clinic_step(
            referral_id,
            response,
            key,
            Discharge(key.organisation_code),
            reason_code=asked.outcome_code,
            particulars=particulars,
        )

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
        key: ReferrerKey,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> ActionResult:
        reason = _reason(CancelRequest, await read_json(request, max_body_bytes))
        done = await service_layer.act(
            unit_of_work,
            referral_id,
            Cancel("referrer"),
            Actor("referrer", key.organisation_code),
            directory,
            reason_code=reason.reason_code,
            idempotency=_idempotency(key, idempotency_key, "cancel", str(referral_id), reason),
        )
        return _answer(done, response)

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
        key: ReferrerKey,
        idempotency_key: Annotated[str | None, Header()] = None,
        x_correlation_id: Annotated[str | None, Header()] = None,
    ) -> ActionResult:
        submission = parse_submission(await read_json(request, max_body_bytes))
        done = await service_layer.amend(
            unit_of_work,
            referral_id,
            submission,
            Actor("referrer", key.organisation_code),
            correlation_id=correlation_id(x_correlation_id),
            today=today(),
            idempotency=_idempotency(key, idempotency_key, "amend", str(referral_id), submission),
        )
        return _answer(done, response)

    @router.get(
        "/v1/clinic/referrals",
        response_model=Worklist,
        summary="The clinic's worklist: the referrals routed to its site, oldest first.",
        responses={401: _ANSWERS[401], 403: _ANSWERS[403]},
    )
    async def clinic_worklist(
        key: ClinicKey,
        state: Annotated[HeldState, Query()] = ROUTED,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        after: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Worklist:
        return await views.worklist(
            database,
            Viewer.clinic(key.organisation_code),
            ReferralState(state.value),
            limit,
            _cursor(after),
        )

    @router.get(
        "/v1/referrer/referrals",
        response_model=Worklist,
        summary="The referring organisation's worklist: the referrals it made, in one state "
        "or any, received in a window of days (London dates, inclusive), urgent first, then "
        "oldest first. Each referral's own view says what the organisation may do now.",
        responses={401: _ANSWERS[401], 403: _ANSWERS[403], 422: _ANSWERS[422]},
    )
    async def referrer_worklist(
        key: ReferrerKey,
        state: Annotated[ReferralState | None, Query()] = None,
        received_from: Annotated[date | None, Query()] = None,
        received_to: Annotated[date | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        after: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Worklist:
        return await views.worklist(
            database,
            Viewer.referrer(key.organisation_code),
            state,
            limit,
            _cursor(after),
            received_from=_midnight(received_from),
            received_before=_midnight(received_to, days_after=1),
        )

    return router


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
    return _parsed(model, data)


def _parsed(model: type[_Asked], data: Any) -> _Asked:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Problem(422, "The request is not valid.", field_errors(error)) from error


def _midnight(day: date | None, *, days_after: int = 0) -> datetime | None:
    """The start of a London day (or of the day after: a window's inclusive end)."""
    if day is None:
        return None
    try:
        return datetime.combine(day + timedelta(days=days_after), time(), tzinfo=LONDON)
    except OverflowError as error:
        raise Problem(
            422, "The request is not valid.", [{"field": "received_to", "message": "Too late."}]
        ) from error


def _cursor(after: str | None) -> views.Cursor | None:
    try:
        return views.parse_cursor(after)
    except ValueError as error:
        raise Problem(
            422, "The request is not valid.", [{"field": "after", "message": "Not a cursor."}]
        ) from error
