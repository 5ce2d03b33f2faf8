"""Consume `referrals.received` in a consumer group: decide each referral once.

An event that cannot be parsed or decided goes to the dead-letter topic with the reason (its
bytes sealed when it was not a well-formed event), and the partition moves on.
"""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from router import service_layer
from router.ports import UnitOfWork
from router.settings import RouterSettings
from shared import topics
from shared.clock import today
from shared.consumer import Batch, Rejected, subscribe
from shared.contracts import (
    DeadLetter,
    ReferralNeedsTriage,
    ReferralReceived,
    ReferralRejected,
    ReferralRouted,
)
from shared.dead_letters import DeadLetters
from shared.directory import Directory
from shared.kafka import document_outbox_events
from shared.logging import get_logger

log = get_logger(__name__)


def received_router(
    settings: RouterSettings, unit_of_work: UnitOfWork, directory: Directory
) -> KafkaRouter:
    router = KafkaRouter()
    document_outbox_events(
        router,
        settings.kafka_topic_prefix,
        (ReferralRouted, ReferralRejected, ReferralNeedsTriage),
    )
    prefix = settings.kafka_topic_prefix
    source_topic = topics.REFERRAL_RECEIVED.qualified(prefix)

    async def decide(batch: Batch[ReferralReceived]) -> list[Rejected[ReferralReceived]]:
        await service_layer.decide_batch(
            unit_of_work, batch.events, directory, as_of=today(), topic=source_topic
        )
        return []

    subscribe(
        router,
        source_topic,
        payload=ReferralReceived,
        what="a ReferralReceived event",
        group_id=settings.consumer_group,
        description="Accepted referrals (ReferralReceived), decided against the directory.",
        dead_letters=DeadLetters(
            router.publisher(topics.REFERRAL_RECEIVED_DLQ.qualified(prefix), schema=DeadLetter),
            seal_to=settings.dead_letter_public_key,
            source="received",
        ),
        work=decide,
        name="received",
    )
    return router
