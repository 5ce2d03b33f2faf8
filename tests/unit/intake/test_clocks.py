"""The promises as clocks, over the in-memory store: a state that waits starts its clock (due
by its service's promise, in working days), leaving it stops it, and a clock that ran out
fires once. Time is injected: nothing here waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake import service_layer
from intake.domain.clocks import clock_change
from intake.domain.lifecycle import Accept, Book, Transition
from intake.ports import UnitOfWork
from intake.service_layer import Actor
from intake.service_layer.lifecycle import Particulars
from shared.contracts import Appointment, Outcome, ReferralOverdue, ReferralState
from shared.directory import load_directory
from shared.working_days import add_working_days
from tests.support.decisions import decided
from tests.support.fakes import IntakeState
from tests.unit.intake.test_lifecycle_service import DIRECTORY, SITE, kept, store, stored

ESCALATION = load_directory().escalation


async def fire(unit_of_work: UnitOfWork, now: datetime) -> list[ReferralOverdue]:
    return await service_layer.fire_due(unit_of_work, now, ESCALATION)


S = ReferralState


@pytest.mark.parametrize(
    ("before", "after", "start", "stop"),
    [
        (S.RECEIVED, S.ROUTED, "accept", None),
        (S.RECEIVED, S.NEEDS_TRIAGE, "triage", None),
        (S.NEEDS_TRIAGE, S.ROUTED, "accept", "triage"),
        (S.ROUTED, S.ACCEPTED, "book", "accept"),
        (S.ROUTED, S.NEEDS_TRIAGE, "triage", "accept"),
        (S.ACCEPTED, S.BOOKED, None, "book"),
        (S.BOOKED, S.ACCEPTED, "book", None),  # an appointment cancelled: book again
        (S.BOOKED, S.BOOKED, None, None),  # changed: nothing new waits
        (S.ROUTED, S.CANCELLED, None, "accept"),
        (S.ACCEPTED, S.NOT_CONTACTABLE, None, "book"),
        (S.ROUTED, S.RECEIVED, None, "accept"),  # amended: routing runs again
    ],
)
def test_each_waiting_state_runs_its_clock(
    before: S, after: S, start: str | None, stop: str | None
) -> None:
    change = clock_change(Transition("accepted", "clinic", before, after))
    assert (change.start, change.stop) == (start, stop)


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


async def test_acceptance_stops_its_clock_and_booking_stops_the_next() -> None:
    state = IntakeState()
    referral = await stored(state)
    await kept(state, [decided(referral.received, Outcome.ROUTED)])
    clinic = Actor("clinic", SITE)
    await service_layer.act(store(state), referral.referral_id, Accept(SITE), clinic, DIRECTORY)
    assert (referral.referral_id, "accept") not in state.clocks
    assert (referral.referral_id, "book") in state.clocks
    appointment = Appointment(
        starts_at=datetime.now(UTC) + timedelta(days=9), mode="video", place="A link by email"
    )
    await service_layer.act(
        store(state), referral.referral_id, Book(SITE), clinic, DIRECTORY,
        particulars=Particulars(appointment=appointment),
    )  # fmt: skip
    assert state.clocks == {}
    far = datetime.now(UTC) + timedelta(days=400)
    assert await fire(store(state), far) == []


async def test_she_is_told_of_a_broken_promise_at_most_once_in_the_escalations_gap() -> None:
    state = IntakeState()
    referral = await stored(state)
    await kept(state, [decided(referral.received, Outcome.ROUTED)])
    _, accept_due = state.clocks[(referral.referral_id, "accept")]
    (first,) = await fire(store(state), accept_due)
    assert first.tell_her
    assert referral.referral_id in state.overdue_since
    clinic = Actor("clinic", SITE)
    await service_layer.act(store(state), referral.referral_id, Accept(SITE), clinic, DIRECTORY)
    assert referral.referral_id not in state.overdue_since  # it moved on
    _, book_due = state.clocks[(referral.referral_id, "book")]
    gap = timedelta(days=ESCALATION.tell_her_every_days)
    (second,) = await fire(store(state), min(book_due, accept_due + gap - timedelta(hours=1)))
    assert second.clock == "book"
    assert not second.tell_her  # told of the first within the gap: not again
    assert second.event_id != first.event_id
