"""A referral's life as a state machine: every state, every transition and who may make it,
in one place. Pure code: given where a referral stands and what someone asks, the transition
or the refusal (`IllegalTransition`, which the API answers with 409 and the current state).

    received ──decided──▶ routed | rejected | needs-triage
    needs-triage ──decided (a person at triage)──▶ routed | rejected
    routed ──accept (the clinic it was routed to)──▶ accepted
    routed ──return (that clinic, a coded reason)──▶ returned (to the referrer)
                                                  └▶ needs-triage (to find the right site)
    accepted ──book (that clinic, an appointment)──▶ booked
    booked ──book (a changed appointment)──▶ booked
    booked ──cancel-appointment (the clinic)──▶ accepted (to be booked again)
    booked ──attended──▶ attended ──discharge (a coded outcome)──▶ discharged
    booked ──did-not-attend──▶ did-not-attend ──book (if the service's policy offers
                                               another)──▶ booked
                                             └─discharge──▶ discharged
    accepted | booked | did-not-attend ──not-contactable (the attempts)──▶ not-contactable
                                                            (back to the referrer)
    any state not final ──cancel (the referrer, or the woman herself)──▶ cancelled
    any state not final ──amend (the referrer)──▶ received, to be decided again, when a fact
                          routing depends on changed; otherwise the state it was in

Final: rejected, returned, cancelled, not-contactable, discharged. (DOMAIN.md, "After routing:
the referral's life" and "To the end of the journey".)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from shared.contracts import ReferralState, StepName

State = ReferralState  # the public name of the states, for the machine

FINAL = frozenset(
    {State.REJECTED, State.RETURNED, State.CANCELLED, State.NOT_CONTACTABLE, State.DISCHARGED}
)
# The clinic it went to holds it (and sees its details), from routing until it is finished.
HELD = (State.ROUTED, State.ACCEPTED, State.BOOKED, State.ATTENDED, State.DID_NOT_ATTEND)
# Finished at the clinic: it still sees them (and is told 409, not 404, if it acts again).
CLOSED_AT_CLINIC = (State.RETURNED, State.NOT_CONTACTABLE, State.DISCHARGED)

Action = Literal["decided", StepName]  # a decision, or a step announced on the lifecycle
ActorRole = Literal["router", "clinic", "referrer", "patient"]  # who acted, as a role
ReturnedTo = Literal["referrer", "triage"]
AfterMissed = Literal["offer-another", "discharge"]

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


@dataclass(frozen=True)
class Book:
    """The clinic books (or changes) her appointment; after a missed one only if the
    service's policy (`after_missed`, from the directory) offers another."""

    site: str
    after_missed: AfterMissed = "offer-another"


@dataclass(frozen=True)
class CancelAppointment:
    site: str


@dataclass(frozen=True)
class RecordAttendance:
    site: str
    attended: bool


@dataclass(frozen=True)
class NotContactable:
    site: str


@dataclass(frozen=True)
class Discharge:
    site: str


ClinicCommand = (
    Accept | Return | Book | CancelAppointment | RecordAttendance | NotContactable | Discharge
)
Command = Decide | ClinicCommand | Cancel | Amend

# What a clinic's step needs the referral to stand in, and where it takes it.
_CLINIC_STEPS: dict[type, tuple[Action, tuple[State, ...], State]] = {
    Accept: ("accepted", (State.ROUTED,), State.ACCEPTED),
    Book: ("booked", (State.ACCEPTED, State.BOOKED, State.DID_NOT_ATTEND), State.BOOKED),
    CancelAppointment: ("appointment-cancelled", (State.BOOKED,), State.ACCEPTED),
    NotContactable: (
        "not-contactable",
        (State.ACCEPTED, State.BOOKED, State.DID_NOT_ATTEND),
        State.NOT_CONTACTABLE,
    ),
    Discharge: ("discharged", (State.ATTENDED, State.DID_NOT_ATTEND), State.DISCHARGED),
}


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
        case Return(site=site, to=to):
            _held_by(current, site, destination, "returned", (State.ROUTED,))
            after = State.RETURNED if to == "referrer" else State.NEEDS_TRIAGE
            return Transition("returned", "clinic", current, after)
        case RecordAttendance(site=site, attended=attended):
            action: Action = "attended" if attended else "did-not-attend"
            _held_by(current, site, destination, action, (State.BOOKED,))
            after = State.ATTENDED if attended else State.DID_NOT_ATTEND
            return Transition(action, "clinic", current, after)
        case Book(site=site, after_missed=after_missed):
            action, sources, after = _CLINIC_STEPS[Book]
            _held_by(current, site, destination, action, sources)
            if current == State.DID_NOT_ATTEND and after_missed == "discharge":
                raise IllegalTransition(
                    current, "this service discharges after a missed appointment"
                )
            return Transition(action, "clinic", current, after)
        case (
            Accept(site=site)
            | CancelAppointment(site=site)
            | NotContactable(site=site)
            | Discharge(site=site)
        ):
            action, sources, after = _CLINIC_STEPS[type(command)]
            _held_by(current, site, destination, action, sources)
            return Transition(action, "clinic", current, after)
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


def _held_by(
    current: State, site: str, destination: str | None, action: str, sources: tuple[State, ...]
) -> None:
    if current not in sources:
        allowed = " or ".join(sources)
        raise IllegalTransition(
            current, f"only a referral that is {allowed} can be {action}; this is {current}"
        )
    if site != destination:
        raise IllegalTransition(current, "only the clinic it was routed to may do this")


# The actions a caller can take, by the name of its door (`POST /v1/referrals/{id}/<name>`;
# amend is the PUT; resolve is the triage page's), each with a command that stands for it.
ActionName = Literal[
    "accept",
    "return",
    "book",
    "cancel-appointment",
    "attended",
    "did-not-attend",
    "not-contactable",
    "discharge",
    "cancel",
    "amend",
    "resolve",
]


def _clinic_actions(site: str, after_missed: AfterMissed) -> dict[ActionName, Command]:
    return {
        "accept": Accept(site),
        "return": Return(site, "referrer"),
        "book": Book(site, after_missed),
        "cancel-appointment": CancelAppointment(site),
        "attended": RecordAttendance(site, attended=True),
        "did-not-attend": RecordAttendance(site, attended=False),
        "not-contactable": NotContactable(site),
        "discharge": Discharge(site),
    }


def allowed_actions(
    current: State,
    actor: ActorRole,
    *,
    site: str | None = None,
    destination: str | None = None,
    after_missed: AfterMissed = "offer-another",
) -> list[ActionName]:
    """What `actor` may do now (as e-RS's available actions), by asking the machine itself:
    a GP system never has to try an action to learn it is refused."""
    candidates: dict[ActionName, Command]
    if actor == "clinic" and site is not None:
        candidates = _clinic_actions(site, after_missed)
    elif actor == "referrer":
        candidates = {"cancel": Cancel("referrer"), "amend": Amend(routing_changed=False)}
    elif actor == "patient":
        candidates = {"cancel": Cancel("patient")}
    else:
        return []
    allowed: list[ActionName] = []
    for name, command in candidates.items():
        try:
            apply(current, command, destination=destination)
        except IllegalTransition:
            continue
        allowed.append(name)
    return allowed
