"""Consume the three decision topics in a consumer group and tell whoever each concerns."""

from __future__ import annotations

import asyncio
import uuid
from typing import TypeAlias

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaRouter
from faststream.kafka.fastapi import KafkaMessage
from pydantic import ValidationError

from notifier.adapters.intake_client import IntakeUnreachable
from notifier.service_layer import Incoming, Notifier
from notifier.settings import NotifierSettings
from shared import topics
from shared.contracts import DeadLetter, NotificationFailed, NotificationSent, ReferralDecided
from shared.kafka import (
    SUBSCRIBER_DEFAULTS,
    batch_records,
    dead_letter,
    document_outbox_events,
)
from shared.logging import get_logger
from shared.submission import describe

log = get_logger(__name__)
Record: TypeAlias = ConsumerRecord[bytes, bytes]
INTAKE_RETRY_PAUSE_SECONDS = 2.0
BATCH_SIZE = 200
DECISION_TOPICS = (topics.REFERRAL_ROUTED, topics.REFERRAL_REJECTED, topics.REFERRAL_TRIAGE)


def decisions_router(settings: NotifierSettings, notifier: Notifier) -> KafkaRouter:
    router = KafkaRouter()
    document_outbox_events(
        router, settings.kafka_topic_prefix, (NotificationSent, NotificationFailed)
    )
    prefix = settings.kafka_topic_prefix
    dead_letters = router.publisher(topics.NOTIFICATION_DLQ.qualified(prefix), schema=DeadLetter)

    @router.subscriber(
        *[t.qualified(prefix) for t in DECISION_TOPICS],
        group_id=settings.consumer_group,
        description="Routing decisions (ReferralDecided): who is told what, on which channel.",
        batch=True,
        max_records=BATCH_SIZE,
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_decisions(message: KafkaMessage) -> None:
        records: dict[uuid.UUID, Record] = {}
        batch: list[Incoming] = []
        for record in batch_records(message):
            try:
                decision = ReferralDecided.model_validate_json(record.value or b"")
            except ValidationError as error:
                reason = f"not a decision: {describe(error)}"
                await dead_letter(dead_letters, record, reason, source="decisions")
                continue
            if decision.event_id not in records:  # a duplicate in the same batch: once is enough
                records[decision.event_id] = record
                batch.append(Incoming(decision, record.topic))
        try:
            unknown = await notifier.handle_batch(batch)
        except IntakeUnreachable as error:
            # Intake is away: pause before the batch comes again (nothing was sent).
            log.warning("intake unreachable, will retry", error=str(error))
            await asyncio.sleep(INTAKE_RETRY_PAUSE_SECONDS)
            raise
        for incoming, reason in unknown:
            record = records[incoming.decision.event_id]
            await dead_letter(dead_letters, record, reason, source="decisions")

    return router
