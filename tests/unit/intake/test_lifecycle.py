"""The referral state machine: every command from every state, legal or refused, and any
sequence of commands leaving a referral where replaying its transitions puts it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.domain.lifecycle import (
    FINAL,
    Accept,
    Amend,
    Book,
    Cancel,
    CancelAppointment,
    Command,
    Decide,
    Discharge,
    IllegalTransition,
    NotContactable,
    RecordAttendance,
    Return,
    State,
    Transition,
    allowed_actions,
    apply,
    replay,
)

SITE, OTHER = "pelvic-bsol", "pelvic-dgs"
S = State

# (state, command) -> the state it leads to; every pair not listed is refused.
LEGAL: dict[tuple[State, Command], State] = {
    (S.RECEIVED, Decide(S.ROUTED)): S.ROUTED,
    (S.RECEIVED, Decide(S.REJECTED)): S.REJECTED,
    (S.RECEIVED, Decide(S.NEEDS_TRIAGE)): S.NEEDS_TRIAGE,
    (S.NEEDS_TRIAGE, Decide(S.ROUTED)): S.ROUTED,
    (S.NEEDS_TRIAGE, Decide(S.REJECTED)): S.REJECTED,
    (S.ROUTED, Accept(SITE)): S.ACCEPTED,
    (S.ROUTED, Return(SITE, "referrer")): S.RETURNED,
    (S.ROUTED, Return(SITE, "triage")): S.NEEDS_TRIAGE,
    (S.ACCEPTED, Book(SITE)): S.BOOKED,
    (S.ACCEPTED, Book(SITE, "discharge")): S.BOOKED,
    (S.BOOKED, Book(SITE)): S.BOOKED,  # a changed appointment
    (S.BOOKED, Book(SITE, "discharge")): S.BOOKED,
    (S.DID_NOT_ATTEND, Book(SITE)): S.BOOKED,  # another offered, where the policy allows
    (S.BOOKED, CancelAppointment(SITE)): S.ACCEPTED,
    (S.BOOKED, RecordAttendance(SITE, attended=True)): S.ATTENDED,
    (S.BOOKED, RecordAttendance(SITE, attended=False)): S.DID_NOT_ATTEND,
    (S.ACCEPTED, NotContactable(SITE)): S.NOT_CONTACTABLE,
    (S.BOOKED, NotContactable(SITE)): S.NOT_CONTACTABLE,
    (S.DID_NOT_ATTEND, NotContactable(SITE)): S.NOT_CONTACTABLE,
    (S.ATTENDED, Discharge(SITE)): S.DISCHARGED,
    (S.DID_NOT_ATTEND, Discharge(SITE)): S.DISCHARGED,
    **{(s, Cancel("referrer")): S.CANCELLED for s in S if s not in FINAL},
    **{(s, Cancel("patient")): S.CANCELLED for s in S if s not in FINAL},
    **{(s, Amend(routing_changed=True)): S.RECEIVED for s in S if s not in FINAL},
    **{(s, Amend(routing_changed=False)): s for s in S if s not in FINAL},
}
COMMANDS: list[Command] = [
    *(Decide(s) for s in S),
    Accept(SITE),
    Accept(OTHER),
    Return(SITE, "referrer"),
    Return(SITE, "triage"),
    Return(OTHER, "referrer"),
    Book(SITE),
    Book(SITE, "discharge"),
    Book(OTHER),
    CancelAppointment(SITE),
    CancelAppointment(OTHER),
    RecordAttendance(SITE, attended=True),
    RecordAttendance(SITE, attended=False),
    RecordAttendance(OTHER, attended=True),
    NotContactable(SITE),
    NotContactable(OTHER),
    Discharge(SITE),
    Discharge(OTHER),
    Cancel("referrer"),
    Cancel("patient"),
    Amend(routing_changed=True),
    Amend(routing_changed=False),
]


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("command", COMMANDS, ids=repr)
def test_every_command_from_every_state(state: State, command: Command) -> None:
    expected = LEGAL.get((state, command))
    if expected is None:
        with pytest.raises(IllegalTransition) as refused:
            apply(state, command, destination=SITE)
        assert refused.value.current == state  # the API answers 409 with it
    else:
        transition = apply(state, command, destination=SITE)
        assert (transition.before, transition.after) == (state, expected)


def test_who_made_each_transition_is_recorded() -> None:
    assert apply(S.ROUTED, Accept(SITE), destination=SITE).actor == "clinic"
    assert apply(S.ROUTED, Cancel("patient"), destination=SITE).actor == "patient"
    assert apply(S.RECEIVED, Decide(S.ROUTED)).actor == "router"
    assert apply(S.ROUTED, Amend(routing_changed=False), destination=SITE).actor == "referrer"


def test_a_whole_journey_from_submission_to_discharge_replays() -> None:
    steps: list[Command] = [
        Decide(S.ROUTED),
        Accept(SITE),
        Book(SITE),
        Book(SITE),  # changed
        RecordAttendance(SITE, attended=False),
        Book(SITE),  # offered another
        RecordAttendance(SITE, attended=True),
        Discharge(SITE),
    ]
    current, done = S.RECEIVED, []
    for command in steps:
        done.append(apply(current, command, destination=SITE))
        current = done[-1].after
    assert [t.action for t in done] == [
        "decided", "accepted", "booked", "booked", "did-not-attend", "booked", "attended",
        "discharged",
    ]  # fmt: skip
    assert replay(done) == S.DISCHARGED in FINAL


@pytest.mark.parametrize("state", list(S))
def test_the_actions_allowed_are_exactly_those_the_machine_takes(state: State) -> None:
    by_name = {
        "accept": Accept(SITE),
        "return": Return(SITE, "referrer"),
        "book": Book(SITE),
        "cancel-appointment": CancelAppointment(SITE),
        "attended": RecordAttendance(SITE, attended=True),
        "did-not-attend": RecordAttendance(SITE, attended=False),
        "not-contactable": NotContactable(SITE),
        "discharge": Discharge(SITE),
    }
    expected = [name for name, command in by_name.items() if (state, command) in LEGAL]
    assert allowed_actions(state, "clinic", site=SITE, destination=SITE) == expected
    assert allowed_actions(state, "clinic", site=OTHER, destination=SITE) == []
    referrer = allowed_actions(state, "referrer")
    assert referrer == ([] if state in FINAL else ["cancel", "amend"])


def test_after_a_missed_appointment_the_services_policy_decides_whether_to_book_again() -> None:
    offers = allowed_actions(S.DID_NOT_ATTEND, "clinic", site=SITE, destination=SITE)
    discharges = allowed_actions(
        S.DID_NOT_ATTEND, "clinic", site=SITE, destination=SITE, after_missed="discharge"
    )
    assert "book" in offers
    assert "book" not in discharges
    assert "discharge" in offers
    assert "discharge" in discharges


def test_a_final_state_takes_no_command() -> None:
    for state in FINAL:
        for command in COMMANDS:
            with pytest.raises(IllegalTransition):
                apply(state, command, destination=SITE)


def test_replay_refuses_a_history_that_does_not_follow_on() -> None:
    with pytest.raises(IllegalTransition):
        replay([Transition("accepted", "clinic", S.ROUTED, S.ACCEPTED)])


@given(st.lists(st.sampled_from(COMMANDS), max_size=30))
def test_any_sequence_leaves_a_legal_state_that_replay_gives_back(
    commands: list[Command],
) -> None:
    current, done = S.RECEIVED, []
    for command in commands:
        expected = LEGAL.get((current, command))
        if expected is None:
            with pytest.raises(IllegalTransition):  # a refusal changes nothing
                apply(current, command, destination=SITE)
            continue
        transition = apply(current, command, destination=SITE)
        assert (transition.before, transition.after) == (current, expected)
        done.append(transition)
        current = transition.after
    assert current in set(S)
    assert replay(done) == current
