"""Consume `referrals.lifecycle`: a return to triage puts a referral back in the triage list,
a cancellation takes it out. Whatever cannot be read or kept is dead-lettered."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from router import service_layer
from router.ports import UnitOfWork
from router.settings import RouterSettings
from shared import topics
from shared.consumer import Batch, Rejected, subscribe
from shared.contracts import DeadLetter, LifecycleEvent
from shared.dead_letters import DeadLetters


def lifecycle_router(settings: RouterSettings, unit_of_work: UnitOfWork) -> KafkaRouter:
    router = KafkaRouter()
    prefix = settings.kafka_topic_prefix
    source_topic = topics.REFERRAL_LIFECYCLE.qualified(prefix)

    async def follow(batch: Batch[LifecycleEvent]) -> list[Rejected[LifecycleEvent]]:
        await service_layer.follow_lifecycle(unit_of_work, batch.events, topic=source_topic)
        return []

    subscribe(
        router,
        source_topic,
        payload=LifecycleEvent,
        what="a lifecycle event",
        group_id=f"{settings.consumer_group}-lifecycle",
        description="A referral's later life: returned to triage, or cancelled.",
        dead_letters=DeadLetters(
            router.publisher(
                topics.REFERRAL_RECEIVED_DLQ.qualified(prefix),
                schema=DeadLetter,
                title=f"{topics.REFERRAL_RECEIVED_DLQ.qualified(prefix)}:lifecycle",
            ),
            seal_to=settings.dead_letter_public_key,
            source="lifecycle",
        ),
        work=follow,
        name="lifecycle",
    )
    return router
