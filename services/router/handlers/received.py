"""Consume `referrals.received` in a consumer group: decide each referral once.

An event that cannot be parsed goes to the dead-letter topic with the reason and its bytes,
and the partition moves on.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from faststream.kafka import KafkaRouter
from faststream.kafka.fastapi import KafkaMessage
from pydantic import ValidationError

from router import service_layer
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
from shared.database import Database
from shared.directory import Directory
from shared.kafka import SUBSCRIBER_DEFAULTS, document_outbox_events, publish_event
from shared.logging import get_logger
from shared.metrics import DEAD_LETTERS

log = get_logger(__name__)
# Up to this many events share one transaction and one offset commit.
BATCH_SIZE = 500


def received_router(
    settings: RouterSettings, database: Database, directory: Directory
) -> KafkaRouter:
    router = KafkaRouter()
    document_outbox_events(
        router,
        settings.kafka_topic_prefix,
        (ReferralRouted, ReferralRejected, ReferralNeedsTriage),
    )
    prefix = settings.kafka_topic_prefix
    source_topic = topics.REFERRAL_RECEIVED.qualified(prefix)
    dead_letters = router.publisher(
        topics.REFERRAL_RECEIVED_DLQ.qualified(prefix), schema=DeadLetter
    )

    @router.subscriber(
        source_topic,
        group_id=settings.consumer_group,
        description="Accepted referrals (ReferralReceived), decided against the directory.",
        batch=True,
        max_records=BATCH_SIZE,
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_received(message: KafkaMessage) -> None:
        records = message.raw_message
        batch = records if isinstance(records, tuple) else (records,)
        readable = []
        for record in batch:
            try:
                readable.append(ReferralReceived.model_validate_json(record.value or b""))
            except ValidationError as error:
                await dead_letter(record, error)
        await service_layer.decide_batch(
            database.pool, readable, directory, as_of=today(), topic=source_topic
        )

    async def dead_letter(record: Any, error: ValidationError) -> None:
        reason = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        partition, offset = record.partition, record.offset
        letter = DeadLetter(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kafka:{source_topic}/{partition}/{offset}"),
            correlation_id=str(uuid.uuid4()),
            source_topic=source_topic,
            source_partition=partition,
            source_offset=offset,
            reason=f"not a ReferralReceived event: {reason}",
            original_base64=base64.b64encode(record.value or b"").decode(),
        )
        await publish_event(dead_letters, letter, key=f"{partition}/{offset}")
        DEAD_LETTERS.labels("received").inc()
        log.warning("received event dead-lettered", partition=partition, offset=offset)

    return router
