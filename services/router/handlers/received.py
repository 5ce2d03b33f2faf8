"""Consume `referrals.received` in a consumer group: decide each referral once.

An event that cannot be parsed or decided goes to the dead-letter topic with the reason (its
bytes sealed when it was not a well-formed event), and the partition moves on.
"""

from __future__ import annotations

from faststream.kafka import KafkaMessage, KafkaRouter

from router import service_layer
from router.ports import UnitOfWork
from router.settings import RouterSettings
from shared import topics
from shared.clock import today
from shared.contracts import (
    DeadLetter,
    ReferralNeedsTriage,
    ReferralReceived,
    ReferralRejected,
    ReferralRouted,
)
from shared.directory import Directory
from shared.kafka import (
    SUBSCRIBER_DEFAULTS,
    DeadLetters,
    ReadBatch,
    document_outbox_events,
    read_batch,
    typed_batch,
)
from shared.logging import get_logger
from shared.poison import Backoff

log = get_logger(__name__)
# Up to this many events share one transaction and one offset commit.
BATCH_SIZE = 500


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
    dead_letters = DeadLetters(
        router.publisher(topics.REFERRAL_RECEIVED_DLQ.qualified(prefix), schema=DeadLetter),
        seal_to=settings.dead_letter_public_key,
        source="received",
    )

    backoff = Backoff("received")

    @router.subscriber(
        source_topic,
        group_id=settings.consumer_group,
        description="Accepted referrals (ReferralReceived), decided against the directory.",
        batch=True,
        max_records=BATCH_SIZE,
        decoder=typed_batch(ReferralReceived, "a ReferralReceived event"),
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_received(events: list[ReferralReceived], message: KafkaMessage) -> None:
        async with backoff.guard():
            await handle(read_batch(message))

    async def handle(batch: ReadBatch[ReferralReceived]) -> None:
        async def decide(events: list[ReferralReceived]) -> list[object]:
            await service_layer.decide_batch(
                unit_of_work, events, directory, as_of=today(), topic=source_topic
            )
            return []

        await dead_letters.process(batch, decide)

    return router
