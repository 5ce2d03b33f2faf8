"""The promises as clocks, over the in-memory store: a state that waits starts its clock (due
by its service's promise, in working days), leaving it stops it, and a clock that ran out
fires once. Time is injected: nothing here waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from intake import service_layer
from intake.domain.clocks import clock_change
from intake.domain.lifecycle import Accept, Book, CancelAppointment, Transition
from intake.ports import UnitOfWork
from intake.service_layer import Actor
from intake.service_layer.lifecycle import Particulars
from shared.contracts import (
    Appointment,
    AppointmentReminder,
    Outcome,
    ReferralOverdue,
    ReferralState,
)
from shared.directory import load_directory
from shared.working_days import add_working_days
from tests.support.decisions import decided
from tests.support.fakes import IntakeState
from tests.unit.intake.test_lifecycle_service import DIRECTORY, SITE, kept, store, stored

ESCALATION = load_directory().escalation


async def fire(
    unit_of_work: UnitOfWork, now: datetime
) -> list[ReferralOverdue | AppointmentReminder]:
    return await service_layer.fire_due(unit_of_work, now, ESCALATION)


async def overdue(unit_of_work: UnitOfWork, now: datetime) -> list[ReferralOverdue]:
    return [e for e in await fire(unit_of_work, now) if isinstance(e, ReferralOverdue)]


S = ReferralState


@pytest.mark.parametrize(
    ("before", "after", "start", "stop"),
    [
        (S.RECEIVED, S.ROUTED, ("accept", "appointment"), ()),
        (S.RECEIVED, S.NEEDS_TRIAGE, ("appointment", "triage"), ()),
        (S.NEEDS_TRIAGE, S.ROUTED, ("accept",), ("triage",)),  # the appointment's goes on
        (S.ROUTED, S.ACCEPTED, ("book",), ("accept",)),
        (S.ROUTED, S.NEEDS_TRIAGE, ("triage",), ("accept",)),
        (S.ACCEPTED, S.BOOKED, ("reminder",), ("book",)),
        (S.BOOKED, S.ACCEPTED, ("book",), ("reminder",)),  # cancelled: book again
        (S.BOOKED, S.ATTENDED, (), ("appointment", "reminder")),  # she came: promise kept
        (S.BOOKED, S.DID_NOT_ATTEND, (), ("reminder",)),  # still owed an appointment
        (S.DID_NOT_ATTEND, S.DISCHARGED, (), ("appointment",)),
        (S.ROUTED, S.CANCELLED, (), ("accept", "appointment")),
        (S.ACCEPTED, S.NOT_CONTACTABLE, (), ("appointment", "book")),
        (S.ROUTED, S.RECEIVED, (), ("accept", "appointment")),  # amended: routing runs again
        (S.ROUTED, S.ROUTED, (), ()),  # amended in place: nothing changes
    ],
)
def test_each_waiting_state_runs_its_clocks(
    before: S, after: S, start: tuple[str, ...], stop: tuple[str, ...]
) -> None:
    change = clock_change(Transition("accepted", "clinic", before, after))
    assert (change.start, change.stop) == (start, stop)


@pytest.mark.parametrize("before", [S.ACCEPTED, S.BOOKED, S.DID_NOT_ATTEND])
def test_a_new_appointment_restarts_the_reminder_and_nothing_else(before: S) -> None:
    change = clock_change(Transition("booked", "clinic", before, S.BOOKED), new_appointment=True)
    assert "reminder" in change.start
    assert ("reminder" in change.stop) == (before == S.BOOKED)
    assert "appointment" not in change.start


async def test_a_routed_referral_is_overdue_once_when_its_promise_runs_out() -> None:
    state = IntakeState()
    referral = await stored(state)
    decision = decided(referral.received, Outcome.ROUTED)
    await kept(state, [decision])
    started, due = state.clocks[(referral.referral_id, "accept")]
    assert started == decision.occurred_at
    promise = DIRECTORY.promises_for(referral.received.service, SITE).accept.working_days
    assert due == add_working_days(decision.occurred_at, promise)

    assert await fire(store(state), due - timedelta(seconds=1)) == []
    (overdue,) = await fire(store(state), due)
    assert isinstance(overdue, ReferralOverdue)
    assert (overdue.clock, overdue.site, overdue.state) == ("accept", SITE, S.ROUTED)
    assert overdue in state.outbox
    assert await fire(store(state), due + timedelta(days=30)) == []  # once


CLINIC = Actor("clinic", SITE)
REMIND = DIRECTORY.journey_for("pelvic-health", SITE).appointment_reminder.hours_before


async def book(state: IntakeState, referral_id: UUID, starts_at: datetime) -> None:
    appointment = Appointment(starts_at=starts_at, mode="video", place="A link by email")
    await service_layer.act(
        store(state), referral_id, Book(SITE), CLINIC, DIRECTORY,
        particulars=Particulars(appointment=appointment),
    )  # fmt: skip


async def booked_referral(state: IntakeState, starts_at: datetime) -> UUID:
    referral = await stored(state)
    await kept(state, [decided(referral.received, Outcome.ROUTED)])
    await service_layer.act(store(state), referral.referral_id, Accept(SITE), CLINIC, DIRECTORY)
    await book(state, referral.referral_id, starts_at)
    return referral.referral_id


async def test_acceptance_stops_its_clock_and_booking_stops_the_next() -> None:
    state = IntakeState()
    referral = await stored(state)
    await kept(state, [decided(referral.received, Outcome.ROUTED)])
    await service_layer.act(store(state), referral.referral_id, Accept(SITE), CLINIC, DIRECTORY)
    assert (referral.referral_id, "accept") not in state.clocks
    assert (referral.referral_id, "book") in state.clocks
    await book(state, referral.referral_id, datetime.now(UTC) + timedelta(days=9))
    assert {clock for _, clock in state.clocks} == {"appointment", "reminder"}


async def test_a_referral_not_seen_within_its_promise_is_overdue_once() -> None:
    state = IntakeState()
    referral = await stored(state)
    decision = decided(referral.received, Outcome.ROUTED)
    await kept(state, [decision])
    started, due = state.clocks[(referral.referral_id, "appointment")]
    weeks = DIRECTORY.promises_for(referral.received.service, SITE).appointment.weeks
    assert weeks is not None
    assert (started, due) == (decision.occurred_at, decision.occurred_at + timedelta(weeks=weeks))
    breaches = await overdue(store(state), due)
    assert [b.clock for b in breaches] == ["accept", "appointment"]
    assert [b.tell_her for b in breaches] == [True, False]  # two at once: she hears of one
    assert await overdue(store(state), due + timedelta(days=365)) == []


async def test_she_is_reminded_once_before_her_appointment() -> None:
    state = IntakeState()
    starts_at = datetime.now(UTC) + timedelta(days=9)
    referral_id = await booked_referral(state, starts_at)
    due = starts_at - timedelta(hours=REMIND)
    assert state.clocks[(referral_id, "reminder")][1] == due
    assert await fire(store(state), due - timedelta(seconds=1)) == []
    (reminder,) = await fire(store(state), due)
    assert isinstance(reminder, AppointmentReminder)
    assert (reminder.appointment.starts_at, reminder.site) == (starts_at, SITE)
    assert reminder in state.outbox
    assert referral_id not in state.overdue_since  # a reminder is no breach
    assert await fire(store(state), starts_at) == []  # once


async def test_a_changed_appointment_is_reminded_for_its_new_day_only() -> None:
    state = IntakeState()
    first = datetime.now(UTC) + timedelta(days=9)
    referral_id = await booked_referral(state, first)
    later = first + timedelta(days=7)
    await book(state, referral_id, later)
    assert await fire(store(state), first) == []  # the first day's reminder is gone
    (reminder,) = await fire(store(state), later - timedelta(hours=REMIND))
    assert isinstance(reminder, AppointmentReminder)
    assert reminder.appointment.starts_at == later


async def test_a_cancelled_appointment_is_not_reminded() -> None:
    state = IntakeState()
    starts_at = datetime.now(UTC) + timedelta(days=9)
    referral_id = await booked_referral(state, starts_at)
    await service_layer.act(
        store(state), referral_id, CancelAppointment(SITE), CLINIC, DIRECTORY,
        reason_code="clinic-unavailable",
    )  # fmt: skip
    assert (referral_id, "reminder") not in state.clocks
    assert all(isinstance(e, ReferralOverdue) for e in await fire(store(state), starts_at))


async def test_an_appointment_booked_closer_than_the_reminder_is_not_reminded() -> None:
    state = IntakeState()
    referral_id = await booked_referral(state, datetime.now(UTC) + timedelta(hours=REMIND - 1))
    assert (referral_id, "reminder") not in state.clocks


async def test_she_is_told_of_a_broken_promise_at_most_once_in_the_escalations_gap() -> None:
    state = IntakeState()
    referral = await stored(state)
    await kept(state, [decided(referral.received, Outcome.ROUTED)])
    _, accept_due = state.clocks[(referral.referral_id, "accept")]
    (first,) = await fire(store(state), accept_due)
    assert first.tell_her
    assert referral.referral_id in state.overdue_since
    await service_layer.act(store(state), referral.referral_id, Accept(SITE), CLINIC, DIRECTORY)
    assert referral.referral_id not in state.overdue_since  # it moved on
    _, book_due = state.clocks[(referral.referral_id, "book")]
    gap = timedelta(days=ESCALATION.tell_her_every_days)
    (second,) = await fire(store(state), min(book_due, accept_due + gap - timedelta(hours=1)))
    assert second.clock == "book"
    assert not second.tell_her  # told of the first within the gap: not again
    assert second.event_id != first.event_id
