"""A referral's life as a state machine: every state, every transition and who may make it,
in one place. Pure code: given where a referral stands and what someone asks, the transition
or the refusal (`IllegalTransition`, which the API answers with 409 and the current state).

    received ──decided──▶ routed | rejected | needs-triage
    needs-triage ──decided (a person at triage)──▶ routed | rejected
    routed ──accept (the clinic it was routed to)──▶ accepted
    routed ──return (that clinic, a coded reason)──▶ returned (to the referrer)
                                                  └▶ needs-triage (to find the right site)
    any state not final ──cancel (the referrer, or the woman herself)──▶ cancelled
    any state not final ──amend (the referrer)──▶ received, to be decided again, when a fact
                          routing depends on changed; otherwise the state it was in

Final: rejected, returned, cancelled. (DOMAIN.md, "After routing: the referral's life".)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from shared.contracts import ReferralState

State = ReferralState  # the public name of the states, for the machine

FINAL = frozenset({State.REJECTED, State.RETURNED, State.CANCELLED})
HELD = (State.ROUTED, State.ACCEPTED)  # the clinic it went to holds it (and sees its details)

Action = Literal["decided", "accepted", "returned", "cancelled", "amended"]
ActorRole = Literal["router", "clinic", "referrer", "patient"]  # who acted, as a role
ReturnedTo = Literal["referrer", "triage"]

# Decisions the router may announce, from the states it may announce them in.
_DECIDED_FROM = {
    State.RECEIVED: {State.ROUTED, State.REJECTED, State.NEEDS_TRIAGE},
    State.NEEDS_TRIAGE: {State.ROUTED, State.REJECTED},
}


@dataclass(frozen=True)
class Decide:
    """The router decided (by its rules, or a person at triage)."""

    outcome: State


@dataclass(frozen=True)
class Accept:
    site: str  # the clinic that accepts: only the one it was routed to may


@dataclass(frozen=True)
class Return:
    site: str
    to: ReturnedTo


@dataclass(frozen=True)
class Cancel:
    by: Literal["referrer", "patient"]


@dataclass(frozen=True)
class Amend:
    routing_changed: bool  # a fact routing depends on changed: decide again


Command = Decide | Accept | Return | Cancel | Amend


@dataclass(frozen=True)
class Transition:
    """What a command did: from where to where, which action, by whom."""

    action: Action
    actor: ActorRole
    before: State
    after: State


class IllegalTransition(Exception):
    """The command is not allowed where the referral stands (or not for this actor)."""

    def __init__(self, current: State, why: str) -> None:
        super().__init__(why)
        self.current = current
        self.why = why


def apply(current: State, command: Command, *, destination: str | None = None) -> Transition:
    """The transition `command` makes from `current`, or IllegalTransition. `destination` is
    the site the referral is routed to (or accepted by), if any."""
    match command:
        case Decide(outcome=outcome):
            if outcome not in _DECIDED_FROM.get(current, set()):
                raise IllegalTransition(
                    current, f"a referral that is {current} cannot be {outcome}"
                )
            return Transition("decided", "router", current, outcome)
        case Accept(site=site):
            _held_by(current, site, destination, "accept")
            return Transition("accepted", "clinic", current, State.ACCEPTED)
        case Return(site=site, to=to):
            _held_by(current, site, destination, "return")
            after = State.RETURNED if to == "referrer" else State.NEEDS_TRIAGE
            return Transition("returned", "clinic", current, after)
        case Cancel(by=by):
            _not_final(current, "cancelled")
            return Transition("cancelled", by, current, State.CANCELLED)
        case Amend(routing_changed=changed):
            _not_final(current, "amended")
            return Transition(
                "amended", "referrer", current, State.RECEIVED if changed else current
            )
    raise TypeError(f"not a command: {command!r}")  # pragma: no cover - exhaustive match


def replay(transitions: Iterable[Transition], start: State = State.RECEIVED) -> State:
    """Where a referral stands after its recorded transitions, each checked to follow on."""
    current = start
    for transition in transitions:
        if transition.before != current:
            raise IllegalTransition(
                current, f"a transition from {transition.before} follows {current}"
            )
        current = transition.after
    return current


def _not_final(current: State, action: str) -> None:
    if current in FINAL:
        raise IllegalTransition(current, f"a referral that is {current} cannot be {action}")


def _held_by(current: State, site: str, destination: str | None, action: str) -> None:
    if current != State.ROUTED:
        raise IllegalTransition(
            current, f"only a routed referral can be {action}ed; this is {current}"
        )
    if site != destination:
        raise IllegalTransition(current, f"only the clinic it was routed to may {action} it")
