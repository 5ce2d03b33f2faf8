"""Event contracts: identifiers stay off the topics; envelopes are complete."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from devstack.samples import received_event
from shared import contracts, topics
from shared.logging import SENSITIVE_KEYS

EVENT_TYPES = [
    contracts.ReferralReceived,
    contracts.ReferralRouted,
    contracts.ReferralRejected,
    contracts.ReferralNeedsTriage,
    contracts.NotificationSent,
    contracts.NotificationFailed,
    contracts.ReferralAccepted,
    contracts.ReferralReturned,
    contracts.ReferralCancelled,
    contracts.ReferralAmended,
]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_no_event_has_a_field_for_patient_identifiers(event_type: type[contracts.Event]) -> None:
    assert not set(event_type.model_fields) & SENSITIVE_KEYS


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_has_the_envelope(event_type: type[contracts.Event]) -> None:
    assert {"event_id", "occurred_at", "schema_version", "correlation_id"} <= set(
        event_type.model_fields
    )
    assert event_type.TOPIC in topics.ALL_TOPICS


def test_topic_names_are_declared_once() -> None:
    names = [t.name for t in topics.ALL_TOPICS]
    assert len(names) == len(set(names))


def test_json_round_trip_keeps_the_event() -> None:
    event = received_event()
    assert contracts.ReferralReceived.model_validate_json(event.model_dump_json()) == event


def test_unknown_fields_are_refused_so_identifiers_cannot_slip_in() -> None:
    payload = received_event().model_dump(mode="json") | {"nhs_number": "9434765919"}
    with pytest.raises(ValidationError, match="nhs_number"):
        contracts.ReferralReceived.model_validate(payload)


def test_decision_outcome_is_fixed_by_its_type() -> None:
    with pytest.raises(ValidationError):
        contracts.ReferralRouted(
            correlation_id="c",
            referral_id=uuid.uuid4(),
            tracking_reference="R",
            received_event_id=uuid.uuid4(),
            outcome=contracts.Outcome.REJECTED,  # type: ignore[arg-type]
            service=contracts.ServiceCode.THRIVE,
            destination=None,
            reasons=(),
            rules_version="v",
        )


@pytest.mark.parametrize("outcome", list(contracts.Outcome))
def test_a_decision_is_announced_on_the_topic_of_its_outcome_and_read_back_whole(
    outcome: contracts.Outcome,
) -> None:
    decision = contracts.RoutingDecision(
        outcome=outcome,
        service=contracts.ServiceCode.PELVIC_HEALTH,
        destination=None,
        reasons=(contracts.Reason(rule="pelvic-health.a-rule", message="Why."),),
        signposting=("Ask your GP.",),
        urgent=True,
        rules_version="sha256:abc",
    )
    event = contracts.ReferralDecided.announce(
        decision,
        referral_id=uuid.uuid4(),
        tracking_reference="WHR-7KQ4-M2X9P",
        received_event_id=uuid.uuid4(),
        correlation_id="c-1",
        decided_by="A. Person",
    )
    assert event.TOPIC.name == f"referrals.{'triage' if outcome == 'needs-triage' else outcome}"
    assert event.decision == decision
    assert event.decided_by == "A. Person"
    assert type(event).model_validate_json(event.model_dump_json()) == event


def test_the_contact_intake_gives_is_the_contact_the_notifier_reads() -> None:
    """One contact contract: intake's answer, as JSON, parses back to the same contacts."""
    contact = contracts.PatientContact(
        given_name="Jane",
        email=None,
        mobile="07700900123",
        address=("Jane Doe", "1 High Street", "B1 1AA"),
        contact_preferences=("letter", "sms"),
        referrer_role=contracts.ReferrerRole.SELF,
        referrer_email=None,
    )
    answer = contracts.Contacts(contacts={uuid.uuid4(): contact}, unknown=[uuid.uuid4()])
    assert contracts.Contacts.model_validate_json(answer.model_dump_json()) == answer
    with pytest.raises(ValidationError):
        contracts.PatientContact.model_validate(
            contact.model_dump() | {"contact_preferences": ("pigeon",)}
        )
