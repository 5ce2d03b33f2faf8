"""Consume the three decision topics in a consumer group and tell whoever each concerns."""

from __future__ import annotations

import asyncio
import base64
import uuid

import httpx
from faststream.kafka import KafkaRouter
from faststream.kafka.fastapi import KafkaMessage
from pydantic import ValidationError

from notifier.adapters.intake_client import ContactMissing
from notifier.service_layer import Notifier
from notifier.settings import NotifierSettings
from shared import topics
from shared.contracts import DeadLetter, NotificationFailed, NotificationSent, ReferralDecided
from shared.kafka import SUBSCRIBER_DEFAULTS, document_outbox_events, publish_event
from shared.logging import correlation, get_logger

log = get_logger(__name__)
INTAKE_RETRY_PAUSE_SECONDS = 2.0
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
        description="Routing decisions: who is told what, on which channel.",
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_decision(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        try:
            decision = ReferralDecided.model_validate_json(message.body)
        except ValidationError as error:
            await dead_letter(record, message.body, f"not a decision: {error.error_count()} errors")
            return
        with correlation(decision.correlation_id):
            try:
                await notifier.handle(decision, record.topic)
            except ContactMissing as error:
                await dead_letter(record, message.body, str(error))
            except httpx.HTTPError as error:
                # Intake is away: pause before the decision comes again, not a hot loop.
                log.warning("intake unreachable, will retry", error=type(error).__name__)
                await asyncio.sleep(INTAKE_RETRY_PAUSE_SECONDS)
                raise

    async def dead_letter(record: object, raw: bytes, reason: str) -> None:
        topic = str(getattr(record, "topic", ""))
        partition, offset = getattr(record, "partition", -1), getattr(record, "offset", -1)
        letter = DeadLetter(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kafka:{topic}/{partition}/{offset}"),
            correlation_id=str(uuid.uuid4()),
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            reason=reason,
            original_base64=base64.b64encode(raw).decode(),
        )
        await publish_event(dead_letters, letter, key=f"{partition}/{offset}")
        log.warning("decision dead-lettered", reason=reason, topic=topic, offset=offset)

    return router
