"""What happens to a referral after it came in: the router's decisions kept as its state, and
the clinic's, the referrer's and the woman's actions on it, each through the state machine
(`intake.domain.lifecycle`), recorded with who, when and why, and announced on
`referrals.lifecycle` through the outbox, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ValidationError

from intake.domain import lifecycle
from intake.domain.lifecycle import (
    CLOSED_AT_CLINIC,
    HELD,
    Accept,
    Amend,
    Book,
    Cancel,
    CancelAppointment,
    ClinicCommand,
    Command,
    Decide,
    Discharge,
    IllegalTransition,
    NotContactable,
    RecordAttendance,
    Return,
    State,
    Transition,
)
from intake.domain.proof import Proof, proves
from intake.domain.referral import AcceptedReferral, RecordedDecision, amendment
from intake.ports import (
    IdempotencyConflict,
    Referrals,
    Standing,
    Step,
    UnitOfWork,
)
from intake.service_layer.clocks import clock_fields
from shared.contracts import (
    Appointment,
    ReferralAccepted,
    ReferralAmended,
    ReferralAppointmentCancelled,
    ReferralAttended,
    ReferralBooked,
    ReferralCancelled,
    ReferralDecided,
    ReferralDidNotAttend,
    ReferralDischarged,
    ReferralNotContactable,
    ReferralReceived,
    ReferralReturned,
    ReferralTransitioned,
    ServiceCode,
)
from shared.directory import Directory, Reminder
from shared.logging import correlation, get_logger
from shared.reduction import for_routing
from shared.submission import ReferralSubmission

log = get_logger(__name__)


@dataclass(frozen=True)
class Done:
    """The answer to an action: where the referral stands now (and, for an amendment,
    whether routing runs again); `replayed` for a repeat under the same Idempotency-Key."""

    referral_id: UUID
    status: State
    rerouted: bool | None = None
    replayed: bool = False

    def answer(self) -> dict[str, Any]:
        return {
            "referral_id": str(self.referral_id),
            "status": self.status.value,
            "rerouted": self.rerouted,
        }

    @classmethod
    def replay(cls, answer: dict[str, Any]) -> Done:
        return cls(UUID(answer["referral_id"]), State(answer["status"]), answer["rerouted"], True)


Idempotency = tuple[str, str, bytes]  # organisation, Idempotency-Key, request hash


class NotFound(Exception):
    """No such referral for this actor: someone else's looks exactly like none."""


class UnknownReason(ValueError):
    """A reason (or outcome) code the directory does not list, or a detail it needs that is
    missing: `field` names what to correct."""

    def __init__(self, message: str, field: str = "reason_code") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Particulars:
    """What a clinic's step records beside its reason: the appointment it booked, when it
    tried to reach her, the service it referred her on to."""

    appointment: Appointment | None = None
    attempts: tuple[datetime, ...] = ()
    referred_to: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who acts: a clinic (its site id), a referrer (its organisation) or the woman herself
    (her identity checked before; no id)."""

    role: Literal["clinic", "referrer", "patient"]
    id: str | None
    person: str | None = None  # the member of staff acting for it (pseudonymous id), if one

    def may_act_on(self, standing: Standing) -> bool:
        if self.role == "clinic":
            held = (*HELD, *CLOSED_AT_CLINIC)
            return standing.destination == self.id and standing.state in held
        if self.role == "referrer":
            return standing.organisation_code == self.id
        return standing.organisation_code is None  # the woman: her own self-referral


async def record_decisions(
    unit_of_work: UnitOfWork, decisions: Sequence[ReferralDecided], directory: Directory
) -> set[UUID]:
    """Keep each decision as its referral's state, through the state machine. A decision is
    passed over when the referral moved on (cancelled, or decided later), or when it answers
    facts since amended. Returns the referrals whose state changed."""
    async with unit_of_work() as referrals:
        standing = await referrals.standing([d.referral_id for d in decisions])
        steps: list[Step] = []
        for decision in sorted(decisions, key=lambda d: d.occurred_at):
            now = standing.get(decision.referral_id)
            if now is None or not _answers(decision, now):
                continue
            try:
                transition = lifecycle.apply(now.state, Decide(State(decision.outcome.value)))
            except IllegalTransition as refused:
                log.info(
                    "decision passed over",
                    referral_id=str(decision.referral_id),
                    outcome=decision.outcome.value,
                    why=refused.why,
                )
                continue
            recorded = RecordedDecision.of(decision)
            site = decision.destination.id if decision.destination else None
            promises = directory.promises_for(decision.service, site)
            steps.append(
                Step(
                    decision.referral_id,
                    decision.event_id,
                    transition,
                    actor_id=decision.decided_by,
                    at=decision.occurred_at,
                    decision=recorded,
                    **clock_fields(transition, decision.occurred_at, promises),
                )
            )
            standing[decision.referral_id] = replace(
                now, state=transition.after, decided_at=decision.occurred_at
            )
        await referrals.record_steps(steps)
    return {step.referral_id for step in steps}


def _answers(decision: ReferralDecided, now: Standing) -> bool:
    """Is this the decision the referral waits for: on its current facts, and newer than the
    one it has?"""
    if now.received_event_id not in (None, decision.received_event_id):
        return False
    return now.decided_at is None or now.decided_at < decision.occurred_at


async def act(
    unit_of_work: UnitOfWork,
    referral_id: UUID,
    command: ClinicCommand | Cancel,
    actor: Actor,
    directory: Directory,
    *,
    reason_code: str | None = None,
    particulars: Particulars = Particulars(),
    idempotency: Idempotency | None = None,
) -> Done:
    """A clinic's step (accept, return, book, attendance, not contactable, discharge), or a
    referrer's or the woman's cancellation. Raises NotFound, UnknownReason,
    IdempotencyConflict, or IllegalTransition (with where the referral stands). A repeat
    under the same Idempotency-Key gets the first answer."""
    command, words = _with_reason(command, reason_code, particulars, directory)
    async with unit_of_work() as referrals:
        now = await _standing_for(referrals, referral_id, actor)
        if idempotency is not None and (earlier := await referrals.find_action(*idempotency)):
            return Done.replay(earlier)
        policy = directory.journey_for(now.service, now.destination).after_missed_appointment
        if isinstance(command, Book):  # after a missed one, as the service's policy says
            command = replace(command, after_missed=policy.value)
        transition = lifecycle.apply(now.state, command, destination=now.destination)
        may_rebook = policy.value == "offer-another"
        event = _announce(now, transition, command, reason_code, words, particulars, may_rebook)
        event = event.model_copy(update={"by_person": actor.person})
        appointment = (
            particulars.appointment.model_dump(mode="json") if particulars.appointment else None
        )
        await referrals.record_steps(
            [
                Step(
                    referral_id,
                    event.event_id,
                    transition,
                    actor_id=actor.id,
                    person_id=actor.person,
                    at=event.occurred_at,
                    reason_code=reason_code if words is not None else None,
                    reason=words,
                    events=(event,),
                    details=_details(event),
                    appointment=appointment if isinstance(command, Book) else None,
                    sets_appointment=isinstance(command, Book | CancelAppointment),
                    **clock_fields(
                        transition,
                        event.occurred_at,
                        directory.promises_for(now.service, now.destination),
                        reminder=_reminder(command, particulars, directory, now),
                    ),
                )
            ]
        )
        done = Done(referral_id, transition.after)
        await _remember(referrals, idempotency, done)
    with correlation(now.correlation_id):
        log.info(
            "referral " + transition.action,
            referral_id=str(referral_id),
            before=transition.before.value,
            after=transition.after.value,
            by=actor.role,
            reason_code=reason_code,
        )
    return done


def _reminder(
    command: ClinicCommand | Cancel, particulars: Particulars, directory: Directory, now: Standing
) -> tuple[Reminder, Appointment] | None:
    """A booking sets the reminder for its appointment, as its site's journey says."""
    if not isinstance(command, Book) or particulars.appointment is None:
        return None
    journey = directory.journey_for(now.service, now.destination)
    return journey.appointment_reminder, particulars.appointment


async def amend(
    unit_of_work: UnitOfWork,
    referral_id: UUID,
    submission: ReferralSubmission,
    actor: Actor,
    *,
    correlation_id: str,
    today: date,
    idempotency: Idempotency | None = None,
) -> Done:
    """The referrer's corrected submission (validated as a new one) for a referral it made.
    Routing runs again only when a fact it depends on changed; otherwise the referral keeps
    its place. Raises NotFound, NotYourOrganisation, IllegalTransition."""
    async with unit_of_work() as referrals:
        now = await _standing_for(referrals, referral_id, actor)
        if idempotency is not None and (earlier := await referrals.find_action(*idempotency)):
            return Done.replay(earlier)
        corrected = amendment(
            submission,
            referral_id=referral_id,
            tracking_reference=now.tracking_reference,
            organisation_code=str(actor.id),
            correlation_id=correlation_id,
            today=today,
        )
        stored = await referrals.submission_of(corrected.referral_id)
        changed = _routing_changed(stored, corrected, today)
        transition = lifecycle.apply(now.state, Amend(routing_changed=changed))
        event = _announce(now, transition, Amend(changed), None, None)
        await referrals.replace_submission(corrected, reroute=changed)
        await referrals.record_steps(
            [
                Step(
                    corrected.referral_id,
                    event.event_id,
                    transition,
                    actor_id=actor.id,
                    at=event.occurred_at,
                    events=(event,),
                    **clock_fields(transition, event.occurred_at, None),  # received: none
                )
            ]
        )
        done = Done(corrected.referral_id, transition.after, rerouted=changed)
        await _remember(referrals, idempotency, done)
    with correlation(now.correlation_id):
        log.info(
            "referral amended",
            referral_id=str(corrected.referral_id),
            reroute=changed,
            after=transition.after.value,
        )
    return done


async def _remember(referrals: Referrals, idempotency: Idempotency | None, done: Done) -> None:
    """Keep the answer under the Idempotency-Key, in the action's transaction. A concurrent
    request with the same key that kept its answer first wins: this one is rolled back."""
    if idempotency is not None and not await referrals.remember_action(
        *idempotency, done.referral_id, done.answer()
    ):
        raise IdempotencyConflict("a request with this Idempotency-Key is being handled")


async def cancel_for_her(unit_of_work: UnitOfWork, directory: Directory, proof: Proof) -> bool:
    """A woman cancels her own self-referral: her reference, date of birth and postcode must
    all match. Whether it did is for the log only: the page she sees says the same either
    way, so that nobody can learn from it whether a referral exists."""
    async with unit_of_work() as referrals:
        referral_id = await referrals.self_referral_by_reference(proof.tracking_reference)
        stored = await referrals.submission_of(referral_id) if referral_id else None
    if referral_id is None or not proves(proof, stored):
        log.info("self-cancellation: no referral matched")
        return False
    try:
        await act(
            unit_of_work, referral_id, Cancel("patient"), Actor("patient", None), directory,
            reason_code="patient-request",
        )  # fmt: skip
    except IllegalTransition:
        log.info("self-cancellation: already final", referral_id=str(referral_id))
        return False
    return True


async def _standing_for(referrals: Referrals, referral_id: UUID, actor: Actor) -> Standing:
    now = (await referrals.standing([referral_id])).get(referral_id)
    if now is None or not actor.may_act_on(now):
        raise NotFound(referral_id)
    return now


def _with_reason(
    command: ClinicCommand | Cancel,
    reason_code: str | None,
    particulars: Particulars,
    directory: Directory,
) -> tuple[ClinicCommand | Cancel, str | None]:
    """The command with where a return goes (the reason's route), and the reason's (or the
    outcome's) words; refuses a step without the particulars it records."""
    if isinstance(command, Return):
        reason = directory.return_reasons.get(reason_code or "")
        if reason is None:
            raise UnknownReason(_choose(directory.return_reasons))
        return replace(command, to=reason.to), reason.message
    if isinstance(command, Cancel):
        words = directory.cancel_reasons.get(reason_code or "")
        if words is None:
            raise UnknownReason(_choose(directory.cancel_reasons))
        return command, words
    if isinstance(command, Discharge):
        outcome = directory.discharge_outcomes.get(reason_code or "")
        if outcome is None:
            raise UnknownReason(_choose(directory.discharge_outcomes), "outcome_code")
        if outcome.refers_on and not particulars.referred_to:
            raise UnknownReason("Name the service she was referred on to.", "referred_to")
        return command, outcome.message
    if isinstance(command, Book) and particulars.appointment is None:
        raise UnknownReason("A booking needs the appointment.", "appointment")
    if isinstance(command, NotContactable) and not particulars.attempts:
        raise UnknownReason("Say when each attempt to reach her was made.", "attempts")
    return command, None


def _details(event: ReferralTransitioned) -> dict[str, Any] | None:
    """What a step records beyond its reason: the event's own particulars."""
    match event:
        case ReferralBooked(appointment=appointment):
            return {"appointment": appointment.model_dump(mode="json")}
        case ReferralNotContactable(attempts=attempts):
            return {"attempts": [a.isoformat() for a in attempts]}
        case ReferralDischarged(referred_to=referred_to) if referred_to:
            return {"referred_to": referred_to}
        case ReferralDidNotAttend(may_rebook=may_rebook):
            return {"may_rebook": may_rebook}
    return None


def _routing_changed(
    stored: dict[str, Any] | None, corrected: AcceptedReferral, today: date
) -> bool:
    """Does the correction change a fact routing depends on? (A stored submission that no
    longer validates counts as changed: routing runs again.)"""
    try:
        previous = ReferralSubmission.model_validate(stored, context={"today": today})
    except ValidationError:
        return True
    before = for_routing(
        previous,
        referral_id=corrected.referral_id,
        tracking_reference=corrected.tracking_reference,
        correlation_id=corrected.received.correlation_id,
        today=today,
    )
    return _facts(before) != _facts(corrected.received)


def _facts(received: ReferralReceived) -> dict[str, Any]:
    """What routing depends on: the event without its envelope."""
    return received.model_dump(
        mode="json", exclude={"event_id", "occurred_at", "correlation_id", "schema_version"}
    )


def _choose(reasons: Mapping[str, object]) -> str:
    return "reason_code must be one of: " + ", ".join(sorted(reasons))


def _announce(
    now: Standing,
    transition: Transition,
    command: Command,
    reason_code: str | None,
    words: str | None,
    particulars: Particulars = Particulars(),
    may_rebook: bool = False,
) -> ReferralTransitioned:
    common = {
        "correlation_id": now.correlation_id,
        "referral_id": now.referral_id,
        "tracking_reference": now.tracking_reference,
        "service": ServiceCode(now.service),
        "before": transition.before,
        "after": transition.after,
        "by": transition.actor,
        "site": now.destination if now.state in HELD else None,
        "occurred_at": datetime.now(UTC),
    }
    match command:
        case Accept():
            return ReferralAccepted(**common)
        case Return(to=to):
            return ReferralReturned(**common, to=to, reason_code=reason_code, reason=words)
        case Cancel():
            return ReferralCancelled(**common, reason_code=reason_code, reason=words)
        case Amend(routing_changed=changed):
            return ReferralAmended(**common, reroute=changed)
        case Book():
            assert particulars.appointment is not None  # _with_reason saw to it
            return ReferralBooked(**common, appointment=particulars.appointment)
        case CancelAppointment():
            return ReferralAppointmentCancelled(**common)
        case RecordAttendance(attended=True):
            return ReferralAttended(**common)
        case RecordAttendance(attended=False):
            return ReferralDidNotAttend(**common, may_rebook=may_rebook)
        case NotContactable():
            return ReferralNotContactable(**common, attempts=particulars.attempts)
        case Discharge():
            return ReferralDischarged(
                **common,
                outcome_code=reason_code,
                outcome=words,
                referred_to=particulars.referred_to,
            )
    raise TypeError(f"no event for {command!r}")  # pragma: no cover
