"""Consume the three decision topics in a consumer group and tell whoever each concerns."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from faststream.kafka import KafkaRouter
from faststream.kafka.fastapi import KafkaMessage
from pydantic import ValidationError

from notifier.adapters.intake_client import ContactMissing
from notifier.service_layer import Notifier
from notifier.settings import NotifierSettings
from shared import topics
from shared.contracts import DeadLetter, NotificationFailed, NotificationSent, ReferralDecided
from shared.kafka import (
    SUBSCRIBER_DEFAULTS,
    batch_records,
    dead_letter,
    document_outbox_events,
)
from shared.logging import correlation, get_logger
from shared.submission import describe

log = get_logger(__name__)
INTAKE_RETRY_PAUSE_SECONDS = 2.0
BATCH_SIZE = 200
CONCURRENT_REFERRALS = 32  # decisions of different referrals notified at once
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
        # One referral's decisions in order (triage, then its resolution); referrals at once.
        by_referral: dict[uuid.UUID, list[tuple[Any, ReferralDecided]]] = {}
        seen: set[uuid.UUID] = set()
        for record in batch_records(message):
            try:
                decision = ReferralDecided.model_validate_json(record.value or b"")
            except ValidationError as error:
                reason = f"not a decision: {describe(error)}"
                await dead_letter(dead_letters, record, reason, source="decisions")
                continue
            if decision.event_id not in seen:  # a duplicate in the same batch: once is enough
                seen.add(decision.event_id)
                by_referral.setdefault(decision.referral_id, []).append((record, decision))
        limit = asyncio.Semaphore(CONCURRENT_REFERRALS)

        async def tell(decisions: list[tuple[Any, ReferralDecided]]) -> None:
            async with limit:
                for record, decision in decisions:
                    with correlation(decision.correlation_id):
                        try:
                            await notifier.handle(decision, record.topic)
                        except ContactMissing as error:
                            await dead_letter(dead_letters, record, str(error), source="decisions")

        # Every task finishes before the batch is acknowledged or retried: none may still be
        # sending when the batch comes again.
        outcomes = await asyncio.gather(
            *(tell(group) for group in by_referral.values()), return_exceptions=True
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if any(isinstance(f, httpx.HTTPError) for f in failures):
            # Intake is away: pause before the batch comes again (what was sent is not resent).
            log.warning("intake unreachable, will retry")
            await asyncio.sleep(INTAKE_RETRY_PAUSE_SECONDS)
        if failures:
            raise failures[0]

    return router
