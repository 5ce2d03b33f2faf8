"""The promises a service makes, kept as durable clocks (DOMAIN.md, "Silences"): each step
starts and stops them in its own transaction (`clock_fields`), and `fire_due` turns every
clock that ran out into one `ReferralOverdue`, however many intake processes call it.

PostgreSQL itself (FOR UPDATE SKIP LOCKED), not a job-queue library such as pgqueuer: a
clock must be set and stopped in the very transaction of the step, on the store's own
connection and schema, which one table and two statements do."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from intake.domain.clocks import clock_change
from intake.domain.lifecycle import Transition
from intake.metrics import APPOINTMENT_REMINDERS, REFERRALS_OVERDUE
from intake.ports import ClockStart, DueClock, UnitOfWork
from shared.contracts import Appointment, AppointmentReminder, ReferralOverdue, ServiceCode
from shared.directory import Escalation, Promises, Reminder
from shared.logging import correlation, get_logger

log = get_logger(__name__)
FIRE_BATCH = 100


def clock_fields(
    transition: Transition,
    at: datetime,
    promises: Promises | None,
    *,
    reminder: tuple[Reminder, Appointment] | None = None,
) -> dict[str, Any]:
    """The clocks a step starts (each due by its service's promise, the reminder before the
    appointment it sets) and those it stops. A reminder that would fall before the step
    itself (an appointment booked closer to the day than that) is not started."""
    change = clock_change(transition, new_appointment=reminder is not None)
    started: list[ClockStart] = []
    for clock in change.start:
        if clock == "reminder":
            if reminder is None:
                continue
            ahead, appointment = reminder
            due = appointment.starts_at - timedelta(hours=ahead.hours_before)
            if due > at:
                started.append(ClockStart(clock, at, due))
            continue
        if promises is None:
            raise ValueError(f"{transition.after} starts a clock: its promises are needed")
        started.append(ClockStart(clock, at, getattr(promises, clock).due(at)))
    return {"starts_clocks": tuple(started), "stops_clocks": change.stop}


async def fire_due(
    unit_of_work: UnitOfWork,
    now: datetime,
    escalation: Escalation,
    *,
    limit: int = FIRE_BATCH,
) -> list[ReferralOverdue | AppointmentReminder]:
    """Every clock due by `now` (up to `limit`), fired once: marked and announced in one
    transaction, so a process that dies in between leaves them to fire again. A promise's
    clock makes a `ReferralOverdue` (the woman told of the breach unless she was told of
    another of hers within the escalation's gap); a reminder's, an `AppointmentReminder`."""
    gap = timedelta(days=escalation.tell_her_every_days)
    async with unit_of_work() as referrals:
        due = await referrals.due_clocks(now, limit)
        told_now: set[UUID] = set()
        tell: dict[UUID, bool] = {}
        for clock in due:  # two breaches at once: she hears of one
            last = clock.her_last_told_at
            tell[clock.deadline_id] = (
                clock.clock != "reminder"
                and clock.referral_id not in told_now
                and (last is None or now - last >= gap)
            )
            if tell[clock.deadline_id]:
                told_now.add(clock.referral_id)
        events = [_event_of(clock, tell[clock.deadline_id]) for clock in due]
        await referrals.fire_clocks([(c.deadline_id, tell[c.deadline_id]) for c in due], now)
        await referrals.announce(events)
    for event in events:
        with correlation(event.correlation_id):
            if isinstance(event, AppointmentReminder):
                APPOINTMENT_REMINDERS.labels(event.service.value, event.site).inc()
                log.info("appointment reminder due", referral_id=str(event.referral_id))
                continue
            REFERRALS_OVERDUE.labels(event.service.value, event.site or "triage", event.clock).inc()
            log.info(
                "referral overdue",
                referral_id=str(event.referral_id),
                clock=event.clock,
                site=event.site,
                due_at=event.due_at.isoformat(),
            )
    return events


def _event_of(clock: DueClock, tell_her: bool) -> ReferralOverdue | AppointmentReminder:
    about = {
        "correlation_id": clock.correlation_id,
        "referral_id": clock.referral_id,
        "tracking_reference": clock.tracking_reference,
        "service": ServiceCode(clock.service),
        "site": clock.site,
    }
    if clock.clock == "reminder":
        if clock.site is None or clock.appointment is None:
            raise ValueError(f"a reminder for {clock.referral_id} without its appointment")
        appointment = Appointment.model_validate(clock.appointment)
        return AppointmentReminder(
            event_id=uuid5(clock.deadline_id, "reminder"), appointment=appointment, **about
        )
    return ReferralOverdue(
        event_id=uuid5(clock.deadline_id, "overdue"),
        clock=clock.clock,
        state=clock.state,
        due_at=clock.due_at,
        started_at=clock.started_at,
        tell_her=tell_her,
        **about,
    )
