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
