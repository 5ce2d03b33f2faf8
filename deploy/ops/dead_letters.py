"""Dead-lettered events: list them, and replay one after the cause is fixed.

Replaying re-publishes the original bytes to the topic they came from. Consumers dedupe by
event id (inbox tables, notification rows), so a replay never duplicates an effect; for the
notifier, the failed rows of that decision are reopened first so that it is tried again.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from uuid import UUID

from aiokafka import AIOKafkaProducer

from notifier.__main__ import reopen_failed
from ops.kafka_views import read_to_end
from ops.settings import OpsSettings
from shared import topics
from shared.contracts import DeadLetter

DLQ_TOPICS = (
    topics.SELF_REFERRAL_DLQ,
    topics.REFERRAL_RECEIVED_DLQ,
    topics.STATUS_DLQ,
    topics.NOTIFICATION_DLQ,
)


class ReplayRefused(Exception):
    pass


async def dead_letters(settings: OpsSettings) -> list[tuple[str, DeadLetter]]:
    names = [t.qualified(settings.kafka_topic_prefix) for t in DLQ_TOPICS]
    records = await read_to_end(settings.kafka_bootstrap_servers, *names)
    found = []
    for record in records:
        try:
            found.append((record.topic, DeadLetter.model_validate_json(record.value or b"")))
        except ValueError:
            continue
    return found


@dataclass(frozen=True)
class Replayed:
    topic: str
    referral_id: UUID | None  # the referral its event names, if it names one


async def replay(settings: OpsSettings, event_id: UUID) -> Replayed:
    matches = [(t, d) for t, d in await dead_letters(settings) if d.event_id == event_id]
    if not matches:
        raise ReplayRefused(f"no dead letter {event_id}")
    dlq_topic, letter = matches[0]
    if letter.original_sealed or not letter.original_base64:
        raise ReplayRefused(
            "the original was not a proper event (kept sealed, or not kept): the sender must "
            "fix and resend it"
        )
    if letter.original_truncated:
        raise ReplayRefused(
            f"only the first bytes of the original were kept; it is whole at "
            f"{letter.source_topic}/{letter.source_partition}@{letter.source_offset}"
        )
    original = base64.b64decode(letter.original_base64)
    if dlq_topic == topics.NOTIFICATION_DLQ.qualified(settings.kafka_topic_prefix):
        await reopen_failed(UUID(json.loads(original)["event_id"]))  # the notifier's own command
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        headers = [("content-type", b"application/json"), ("replayed-from", str(event_id).encode())]
        await producer.send_and_wait(letter.source_topic, original, headers=headers)
    finally:
        await producer.stop()
    named = json.loads(original).get("referral_id")
    return Replayed(letter.source_topic, UUID(named) if named else None)
