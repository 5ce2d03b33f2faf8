"""The router's lifecycle subscriber through FastStream's TestKafkaBroker, over the in-memory
store: a cancellation closes the referral once; what cannot be read is dead-lettered and the
rest goes on."""

from __future__ import annotations

from faststream.kafka import KafkaBroker, TestKafkaBroker

from devstack.samples import received_event
from router.handlers.lifecycle import lifecycle_router
from router.settings import RouterSettings
from shared.contracts import DeadLetter, ReferralCancelled, ReferralState
from tests.support.fakes import InMemoryDecisions, RouterState

SETTINGS = RouterSettings(kafka_topic_prefix="unit.")
LIFECYCLE, DLQ = "unit.referrals.lifecycle", "unit.referrals.received.dlq"


async def test_a_cancellation_closes_the_referral_and_the_unreadable_is_dead_lettered() -> None:
    state = RouterState()
    broker = KafkaBroker()
    broker.include_router(lifecycle_router(SETTINGS, lambda: InMemoryDecisions(state)))
    letters: list[DeadLetter] = []

    @broker.subscriber(DLQ)
    async def dead(letter: DeadLetter) -> None:
        letters.append(letter)

    received = received_event()
    state.received[received.referral_id] = received  # the router decided it earlier
    cancelled = ReferralCancelled(
        correlation_id=received.correlation_id,
        referral_id=received.referral_id,
        tracking_reference=received.tracking_reference,
        service=received.service,
        before=ReferralState.ROUTED,
        after=ReferralState.CANCELLED,
        by="referrer",
        reason_code="sent-in-error",
        reason="Sent in error.",
    )
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"transition": "cancelled"}', LIFECYCLE)
        await test_broker.publish(cancelled.model_dump_json().encode(), LIFECYCLE)
    assert state.closed == {received.referral_id}
    assert state.inbox == {cancelled.event_id: LIFECYCLE}
    (letter,) = letters
    assert letter.reason.startswith("not a lifecycle event")
