"""Consume the three decision topics in a consumer group and tell whoever each concerns."""

from __future__ import annotations

import uuid
from typing import TypeAlias

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaMessage, KafkaRouter

from notifier.service_layer import Incoming, Notifier
from notifier.service_layer.work import Told
from notifier.settings import NotifierSettings
from shared import topics
from shared.contracts import (
    DeadLetter,
    LifecycleEvent,
    NotificationFailed,
    NotificationSent,
    ReferralDecided,
)
from shared.kafka import (
    SUBSCRIBER_DEFAULTS,
    DeadLetters,
    ReadBatch,
    document_outbox_events,
    read_batch,
    typed_batch,
)
from shared.logging import get_logger
from shared.poison import Backoff, isolate, why

log = get_logger(__name__)
Record: TypeAlias = ConsumerRecord[bytes, bytes]
BATCH_SIZE = 200
# Routing's decisions, and the steps after them: each may call for messages.
TOLD_TOPICS = (
    topics.REFERRAL_ROUTED,
    topics.REFERRAL_REJECTED,
    topics.REFERRAL_TRIAGE,
    topics.REFERRAL_LIFECYCLE,
)


def decisions_router(settings: NotifierSettings, notifier: Notifier) -> KafkaRouter:
    router = KafkaRouter()
    document_outbox_events(
        router, settings.kafka_topic_prefix, (NotificationSent, NotificationFailed)
    )
    prefix = settings.kafka_topic_prefix
    dead_letters = DeadLetters(
        router.publisher(topics.NOTIFICATION_DLQ.qualified(prefix), schema=DeadLetter),
        seal_to=settings.dead_letter_public_key,
        source="decisions",
    )

    backoff = Backoff("decisions")

    @router.subscriber(
        *[t.qualified(prefix) for t in TOLD_TOPICS],
        group_id=settings.consumer_group,
        description="Routing decisions (ReferralDecided) and later steps (accepted, returned, "
        "cancelled, amended): who is told what, on which channel.",
        batch=True,
        max_records=BATCH_SIZE,
        decoder=typed_batch(ReferralDecided | LifecycleEvent, "a decision or lifecycle event"),
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_decisions(
        events: list[ReferralDecided | LifecycleEvent], message: KafkaMessage
    ) -> None:
        # Intake away: a pause before the batch comes again (nothing was sent).
        async with backoff.guard():
            await handle(read_batch(message))

    async def handle(read: ReadBatch[Told]) -> None:
        for unreadable, reason in read.unreadable:
            await dead_letters.send(unreadable, reason, readable=False)
        record_of: dict[uuid.UUID, Record] = {}
        batch: list[Incoming] = []
        for decision, record in read.events:
            if decision.event_id not in record_of:  # a duplicate in one batch: once is enough
                record_of[decision.event_id] = record
                batch.append(Incoming(decision, record.topic))

        async def poison(incoming: Incoming, error: BaseException) -> None:
            await dead_letters.send(record_of[incoming.event.event_id], why(error), readable=True)

        for incoming, reason in await isolate(batch, notifier.handle_batch, poison):
            await dead_letters.send(record_of[incoming.event.event_id], reason, readable=True)

    return router
