"""Intake's two Kafka subscribers through FastStream's TestKafkaBroker, over the in-memory
store: typed payloads through the one consumer pipeline; kept once, a repeat in the same
batch taken once; whatever cannot be read or kept dead-lettered (sealed when it may hold
details in clear) while the rest goes on. The real broker is in tests/integration/intake."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from pydantic import SecretStr

from devstack.samples import self_referral
from intake.adapters.self_referral_codec import encode
from intake.domain.tracking import new_tracking_reference
from intake.handlers.decisions import decisions_router
from intake.handlers.self_referrals import self_referral_router
from intake.settings import IntakeSettings
from shared.contracts import DeadLetter, Outcome, ReferralState
from shared.directory import load_directory
from shared.submission import ReferralSubmission
from tests.support.decisions import decided
from tests.support.fakes import InMemoryReferrals, IntakeState
from tests.support.keys import INTAKE_PRIVATE_KEY, INTAKE_PUBLIC_KEY
from tests.unit.intake.test_lifecycle_service import stored

DIRECTORY = load_directory()
SETTINGS = IntakeSettings(kafka_topic_prefix="unit.", private_key=SecretStr(INTAKE_PRIVATE_KEY))
SELF, SELF_DLQ = "unit.referrals.self-referral", "unit.referrals.self-referral.dlq"
ROUTED, STATUS_DLQ = "unit.referrals.routed", "unit.referrals.status.dlq"


@pytest.fixture
def state() -> IntakeState:
    return IntakeState()


def with_letters(broker: KafkaBroker, topic: str) -> list[DeadLetter]:
    letters: list[DeadLetter] = []

    @broker.subscriber(topic)
    async def dead(letter: DeadLetter) -> None:
        letters.append(letter)

    return letters


def sealed_self_referral(**changes: object) -> bytes:
    submission = ReferralSubmission.model_validate(
        self_referral(**changes), context={"today": date.today()}
    )
    event = encode(
        submission,
        INTAKE_PUBLIC_KEY,
        source="partner-form",
        correlation_id=str(uuid.uuid4()),
        referral_id=uuid.uuid4(),
        tracking_reference=new_tracking_reference(),
    )
    return event.model_dump_json().encode()


async def test_a_sealed_self_referral_is_kept_once_and_the_unreadable_dead_lettered(
    state: IntakeState,
) -> None:
    broker = KafkaBroker()
    broker.include_router(self_referral_router(SETTINGS, lambda: InMemoryReferrals(state)))
    letters = with_letters(broker, SELF_DLQ)
    good = sealed_self_referral()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(good, SELF)
        await test_broker.publish(good, SELF)  # redelivered
        await test_broker.publish(b'{"nhs_number": "9434765919"}', SELF)
    assert len(state.referrals) == 1
    assert len(state.outbox) == 1  # its ReferralReceived, once
    (letter,) = letters
    assert letter.reason.startswith("not a SelfReferralSubmitted event")
    assert "9434765919" not in letter.model_dump_json()
    assert letter.original_sealed


async def test_a_decision_is_kept_as_the_status_and_one_not_ours_passed_over(
    state: IntakeState,
) -> None:
    referral = await stored(state)
    broker = KafkaBroker()
    broker.include_router(decisions_router(SETTINGS, lambda: InMemoryReferrals(state), DIRECTORY))
    letters = with_letters(broker, STATUS_DLQ)
    decision = decided(referral.received, Outcome.ROUTED)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(decision.model_dump_json().encode(), ROUTED)
        await test_broker.publish(decision.model_dump_json().encode(), ROUTED)  # redelivered
        await test_broker.publish(b"not json", ROUTED)
    assert state.standing[referral.referral_id].state == ReferralState.ROUTED
    assert [s.transition.after for s in state.steps.values()] == [ReferralState.ROUTED]
    (letter,) = letters
    assert letter.reason.startswith("not a decision")
