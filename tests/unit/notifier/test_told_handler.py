"""The notifier's subscriber through FastStream's TestKafkaBroker, over fakes: a decision
tells the patient and the clinic once, however often it is delivered; one for a referral
intake does not know is dead-lettered with why; bytes that are no event are sealed away."""

from __future__ import annotations

from faststream.kafka import KafkaBroker, TestKafkaBroker

from notifier.handlers.told import told_router
from notifier.settings import NotifierSettings
from shared.contracts import DeadLetter
from tests.unit.notifier.test_service_layer import World, routed

SETTINGS = NotifierSettings(
    kafka_topic_prefix="unit.", intake_api_key="placeholder", local_mode=True
)
ROUTED, DLQ = "unit.referrals.routed", "unit.notifications.dlq"


async def test_a_decision_is_told_once_and_one_intake_does_not_know_is_dead_lettered() -> None:
    known, unknown = routed(), routed()
    world = World(known)
    broker = KafkaBroker()
    broker.include_router(told_router(SETTINGS, world.notifier()))
    letters: list[DeadLetter] = []

    @broker.subscriber(DLQ)
    async def dead(letter: DeadLetter) -> None:
        letters.append(letter)

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(known.model_dump_json().encode(), ROUTED)
        await test_broker.publish(known.model_dump_json().encode(), ROUTED)  # redelivered
        await test_broker.publish(unknown.model_dump_json().encode(), ROUTED)
        await test_broker.publish(b"[1, 2]", ROUTED)
    assert [m.to for m in world.notify.accepted.values()] == ["07700900123"]
    assert [m.recipient for m in world.webhook.accepted.values()] == ["clinic"]
    assert world.state.inbox == {known.event_id: ROUTED}
    reasons = sorted(letter.reason for letter in letters)
    assert reasons[0].startswith("not a decision, lifecycle, overdue or reminder event")
    assert reasons[1] == "unknown to intake"
    assert not next(x for x in letters if x.reason == "unknown to intake").original_sealed
