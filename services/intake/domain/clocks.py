"""The promises a service makes, as clocks on a referral (DOMAIN.md, "Silences"): a state
that waits for someone starts its clock, and leaving it stops the clock. Pure code: which
clock a transition starts and which it stops; when it is due is the directory's promise.

    routed        the clinic accepts or returns it      "accept"
    accepted      the clinic books her                   "book"
    needs-triage  a person decides                       "triage"
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.domain.lifecycle import State, Transition
from shared.contracts import ClockName

CLOCK_OF: dict[State, ClockName] = {
    State.ROUTED: "accept",
    State.ACCEPTED: "book",
    State.NEEDS_TRIAGE: "triage",
}


@dataclass(frozen=True)
class ClockChange:
    start: ClockName | None  # the clock the new state starts
    stop: ClockName | None  # the clock the old state had running


def clock_change(transition: Transition) -> ClockChange:
    """A transition that stays where it was (a changed appointment, an amendment that keeps
    its place) changes no clock."""
    if transition.before == transition.after:
        return ClockChange(None, None)
    return ClockChange(CLOCK_OF.get(transition.after), CLOCK_OF.get(transition.before))
