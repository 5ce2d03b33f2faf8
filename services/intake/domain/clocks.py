"""The clocks on a referral (DOMAIN.md, "Silences"): the promises a service makes, each
running while the referral waits in the states it covers, and the reminder before her
appointment. Pure code: which clocks a transition starts and which it stops; when each is
due is the directory's (a promise's length, the reminder's hours before the appointment).

    routed                   the clinic accepts or returns it       "accept"
    accepted                 the clinic books her                   "book"
    needs-triage .. did-not-attend  she attends an appointment       "appointment"
    needs-triage             a person decides                       "triage"
    booked                   she is reminded before the day         "reminder"
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.domain.lifecycle import State, Transition
from shared.contracts import ClockName, PromiseName

CLOCKS_IN: dict[State, frozenset[ClockName]] = {
    State.NEEDS_TRIAGE: frozenset({"triage", "appointment"}),
    State.ROUTED: frozenset({"accept", "appointment"}),
    State.ACCEPTED: frozenset({"book", "appointment"}),
    State.BOOKED: frozenset({"appointment", "reminder"}),
    State.DID_NOT_ATTEND: frozenset({"appointment"}),
}
PROMISES: tuple[PromiseName, ...] = ("accept", "book", "appointment", "triage")


@dataclass(frozen=True)
class ClockChange:
    start: tuple[ClockName, ...]  # the clocks the new state starts
    stop: tuple[ClockName, ...]  # the clocks the old state ran that it does not


def clock_change(transition: Transition, *, new_appointment: bool = False) -> ClockChange:
    """A clock both states run goes on (the appointment promise from routing to attending);
    a new appointment (booked, or booked again) restarts the reminder for its own day."""
    before = CLOCKS_IN.get(transition.before, frozenset())
    after = CLOCKS_IN.get(transition.after, frozenset())
    reminder: frozenset[ClockName] = frozenset({"reminder"})
    restart = reminder & after if new_appointment else frozenset()
    start = (after - before) | restart
    stop = (before - after) | (restart & before)
    return ClockChange(_ordered(start), _ordered(stop))


def _ordered(clocks: frozenset[ClockName]) -> tuple[ClockName, ...]:
    return tuple(sorted(clocks))
