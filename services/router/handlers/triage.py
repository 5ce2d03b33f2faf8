"""Consume `referrals.triage-resolved`: what a person decided on intake's triage page becomes
the referral's decision, announced like the rules' (once; a resolution that no longer applies
is passed over). Whatever cannot be read is dead-lettered."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from router import service_layer
from router.ports import UnitOfWork
from router.settings import RouterSettings
from shared import topics
from shared.consumer import Batch, Rejected, subscribe
from shared.contracts import DeadLetter, TriageResolved
from shared.dead_letters import DeadLetters
from shared.directory import Directory


def triage_router(
    settings: RouterSettings, unit_of_work: UnitOfWork, directory: Directory
) -> KafkaRouter:
    router = KafkaRouter()
    prefix = settings.kafka_topic_prefix
    source_topic = topics.TRIAGE_RESOLVED.qualified(prefix)

    async def resolve(batch: Batch[TriageResolved]) -> list[Rejected[TriageResolved]]:
        await service_layer.resolve_from_triage_page(
            unit_of_work, directory, batch.events, topic=source_topic
        )
        return []

    subscribe(
        router,
        source_topic,
        payload=TriageResolved,
        what="a triage resolution",
        group_id=f"{settings.consumer_group}-triage",
        description="What a person at triage decided, to announce as the referral's decision.",
        dead_letters=DeadLetters(
            router.publisher(
                topics.REFERRAL_RECEIVED_DLQ.qualified(prefix),
                schema=DeadLetter,
                title=f"{topics.REFERRAL_RECEIVED_DLQ.qualified(prefix)}:triage",
            ),
            seal_to=settings.dead_letter_public_key,
            source="triage",
        ),
        work=resolve,
        name="triage",
    )
    return router
