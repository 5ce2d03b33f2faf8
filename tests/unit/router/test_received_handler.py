"""The router's Kafka handler through FastStream's TestKafkaBroker, over the in-memory store:
typed payloads, decided once, and whatever cannot be read or decided dead-lettered while the
rest of the batch goes on. The real broker is in tests/integration/router."""

from __future__ import annotations

from uuid import UUID

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from devstack.samples import received_event
from router.handlers.received import received_router
from router.settings import RouterSettings
from shared.contracts import DeadLetter, Outcome, ReferralDecided
from shared.directory import load_directory
from tests.support.fakes import InMemoryDecisions, RouterState

SETTINGS = RouterSettings(kafka_topic_prefix="unit.")
RECEIVED, DLQ = "unit.referrals.received", "unit.referrals.received.dlq"


@pytest.fixture
def state() -> RouterState:
    return RouterState()


def broker_for(state: RouterState, poisoned: set[UUID] | None = None) -> KafkaBroker:
    def fails(decision: ReferralDecided) -> BaseException | None:
        return ValueError("cannot be kept") if decision.referral_id in (poisoned or ()) else None

    broker = KafkaBroker()
    broker.include_router(
        received_router(SETTINGS, lambda: InMemoryDecisions(state, fails), load_directory())
    )
    return broker


async def test_a_received_referral_is_decided_and_its_event_queued(state: RouterState) -> None:
    event = received_event()
    async with TestKafkaBroker(broker_for(state)) as broker:
        await broker.publish(event.model_dump(mode="json"), RECEIVED)
        await broker.publish(event.model_dump(mode="json"), RECEIVED)  # redelivered
    (decision,) = state.outbox
    assert decision.referral_id == event.referral_id
    assert decision.outcome == Outcome.ROUTED
    assert state.inbox == {event.event_id: RECEIVED}


async def test_what_cannot_be_read_or_kept_is_dead_lettered_and_the_rest_decided(
    state: RouterState,
) -> None:
    good, poisoned = received_event(), received_event()
    broker = broker_for(state, poisoned={poisoned.referral_id})
    letters: list[DeadLetter] = []

    @broker.subscriber(DLQ)
    async def dead(letter: DeadLetter) -> None:
        letters.append(letter)

    async with TestKafkaBroker(broker) as test_broker:
        for payload in (
            b'{"referral_id": "not-a-uuid", "nhs_number": "9434765919"}',
            poisoned.model_dump_json().encode(),
            good.model_dump_json().encode(),
        ):
            await test_broker.publish(payload, RECEIVED)
    assert [d.referral_id for d in state.outbox] == [good.referral_id]
    unreadable, unkept = letters
    assert unreadable.reason.startswith("not a ReferralReceived event")
    assert "9434765919" not in unreadable.model_dump_json()  # sealed or left out, never clear
    assert unreadable.original_sealed or not unreadable.original_base64
    assert unkept.reason == "cannot be processed (ValueError)"  # no message: it could quote data
    assert not unkept.original_sealed  # a well-formed event is kept as it was
