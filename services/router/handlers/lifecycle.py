"""Consume `referrals.lifecycle`: a return to triage puts a referral back in the triage list,
a cancellation takes it out. Whatever cannot be read or kept is dead-lettered."""

from __future__ import annotations

from faststream.kafka import KafkaMessage, KafkaRouter

from router import service_layer
from router.ports import UnitOfWork
from router.settings import RouterSettings
from shared import topics
from shared.contracts import DeadLetter, LifecycleEvent
from shared.kafka import SUBSCRIBER_DEFAULTS, DeadLetters, ReadBatch, read_batch, typed_batch
from shared.poison import Backoff

BATCH_SIZE = 500


def lifecycle_router(settings: RouterSettings, unit_of_work: UnitOfWork) -> KafkaRouter:
    router = KafkaRouter()
    prefix = settings.kafka_topic_prefix
    source_topic = topics.REFERRAL_LIFECYCLE.qualified(prefix)
    dead_letters = DeadLetters(
        router.publisher(
            topics.REFERRAL_RECEIVED_DLQ.qualified(prefix),
            schema=DeadLetter,
            title=f"{topics.REFERRAL_RECEIVED_DLQ.qualified(prefix)}:lifecycle",
        ),
        seal_to=settings.dead_letter_public_key,
        source="lifecycle",
    )
    backoff = Backoff("lifecycle")

    @router.subscriber(
        source_topic,
        group_id=f"{settings.consumer_group}-lifecycle",
        description="A referral's later life: returned to triage, or cancelled.",
        batch=True,
        max_records=BATCH_SIZE,
        decoder=typed_batch(LifecycleEvent, "a lifecycle event"),
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_lifecycle(events: list[LifecycleEvent], message: KafkaMessage) -> None:
        async with backoff.guard():
            await handle(read_batch(message))

    async def handle(batch: ReadBatch[LifecycleEvent]) -> None:
        async def follow(events: list[LifecycleEvent]) -> list[object]:
            await service_layer.follow_lifecycle(unit_of_work, events, topic=source_topic)
            return []

        await dead_letters.process(batch, follow)

    return router
