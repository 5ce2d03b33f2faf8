"""Dead letters: a message a consumer cannot handle goes to its dead-letter topic with the
reason, its original kept as it was (a well-formed event) or sealed to the operators' key
(bytes that may hold patient details in clear), so that nothing is dropped and the topic
stays safe to watch. `replay` sends one back (`referrals dlq replay`, the operations page)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer

from shared import topics
from shared.contracts import DeadLetter
from shared.kafka import publish_event
from shared.logging import get_logger
from shared.metrics import DEAD_LETTERS
from shared.sealed import seal
from shared.topic_reading import read_to_end

log = get_logger(__name__)

# A dead letter must fit the producer's 1 MiB request limit once base64-encoded (x4/3):
# larger originals keep their first bytes only, and say so.
MAX_KEPT_ORIGINAL_BYTES = 512 * 1024


async def dead_letter(
    publisher: Any,
    record: Any,
    reason: str,
    *,
    source: str,
    readable: bool,
    seal_to: str | None,
) -> None:
    """Publish a message a consumer cannot handle to its dead-letter topic, with the reason.

    `readable`: the message was a well-formed event, so its bytes are safe to show and are
    kept as they were. Otherwise they may hold patient details in clear: they are sealed to
    `seal_to` (the operators' key), or left out when there is no key. The letter's id is
    stable per source message, so a poison event redelivered before the commit dedupes."""
    topic, partition, offset = record.topic, record.partition, record.offset
    raw: bytes = record.value or b""
    kept = raw[:MAX_KEPT_ORIGINAL_BYTES]
    truncated = len(kept) < len(raw)
    if readable:
        original = base64.b64encode(kept).decode()
    elif seal_to is not None:
        original = seal(seal_to, kept)  # base64 of the sealed box
    else:
        original = ""
    letter = DeadLetter(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kafka:{topic}/{partition}/{offset}"),
        correlation_id=str(uuid.uuid4()),
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        reason=reason if original else f"{reason} (original not kept: no dead-letter key)",
        original_base64=original,
        original_sealed=bool(original) and not readable,
        original_size=len(raw),
        original_truncated=truncated and bool(original),
    )
    await publish_event(publisher, letter, key=f"{partition}/{offset}")
    DEAD_LETTERS.labels(source).inc()
    log.warning(
        "dead-lettered",
        source=source,
        reason=reason,
        topic=topic,
        partition=partition,
        offset=offset,
        size=len(raw),
    )


class DeadLetters:
    """A consumer's dead-letter topic: where it sends what it cannot handle, and the key it
    seals unreadable originals to."""

    def __init__(self, publisher: Any, *, seal_to: str | None, source: str) -> None:
        self.publisher, self.seal_to, self.source = publisher, seal_to, source

    async def send(self, record: Any, reason: str, *, readable: bool) -> None:
        await dead_letter(
            self.publisher,
            record,
            reason,
            readable=readable,
            seal_to=self.seal_to,
            source=self.source,
        )


# The header a replayed event carries (the dead letter's id): a consumer that keeps what it
# did per event (the notifier's failed messages) takes it as the operator's word to try again.
REPLAYED_FROM = "replayed-from"
DEAD_LETTER_TOPICS = (
    topics.SELF_REFERRAL_DLQ,
    topics.REFERRAL_RECEIVED_DLQ,
    topics.STATUS_DLQ,
    topics.NOTIFICATION_DLQ,
)


class ReplayRefused(Exception):
    """This dead letter cannot be replayed (none such, or its original was not kept whole)."""


@dataclass(frozen=True)
class Replayed:
    topic: str
    referral_id: UUID | None  # the referral its event names, if it names one


async def dead_letters(
    bootstrap: str, prefix: str = "", options: Mapping[str, Any] | None = None
) -> list[tuple[str, DeadLetter]]:
    """Every dead letter now kept, with the dead-letter topic it is on, oldest first
    (`options`: aiokafka's, for a secured broker)."""
    names = [t.qualified(prefix) for t in DEAD_LETTER_TOPICS]
    found = []
    for record in await read_to_end(bootstrap, *names, options=options):
        try:
            found.append((record.topic, DeadLetter.model_validate_json(record.value or b"")))
        except ValueError:
            continue
    return sorted(found, key=lambda kept: kept[1].occurred_at)


async def replay(
    bootstrap: str, prefix: str, event_id: UUID, options: Mapping[str, Any] | None = None
) -> Replayed:
    """Re-publish a dead letter's original to the topic it came from, marked as replayed.

    Consumers dedupe by event id (inbox tables, notification rows), so a replay never
    duplicates an effect; the notifier reopens the event's failed messages when it sees the
    mark, so that they are tried again (once the cause was fixed)."""
    kept = await dead_letters(bootstrap, prefix, options)
    matches = [(t, d) for t, d in kept if d.event_id == event_id]
    if not matches:
        raise ReplayRefused(f"no dead letter {event_id}")
    _topic, letter = matches[0]
    refused = refusal_of(letter)
    if refused is not None:
        raise ReplayRefused(refused)
    original = base64.b64decode(letter.original_base64)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **(options or {})
    )
    await producer.start()
    try:
        headers = [
            ("content-type", b"application/json"),
            (REPLAYED_FROM, str(event_id).encode()),
        ]
        await producer.send_and_wait(letter.source_topic, original, headers=headers)
    finally:
        await producer.stop()
    named = json.loads(original).get("referral_id")
    log.info("dead letter replayed", dead_letter=str(event_id), topic=letter.source_topic)
    return Replayed(letter.source_topic, UUID(named) if named else None)


def refusal_of(letter: DeadLetter) -> str | None:
    """Why this letter cannot be replayed, or None when it can."""
    if letter.original_sealed or not letter.original_base64:
        return (
            "the original was not a proper event (kept sealed, or not kept): the sender must "
            "fix and resend it"
        )
    if letter.original_truncated:
        return (
            f"only the first bytes of the original were kept; it is whole at "
            f"{letter.source_topic}/{letter.source_partition}@{letter.source_offset}"
        )
    return None


@dataclass(frozen=True)
class KafkaDeadLetters:
    """The dead letters of one deployment (its brokers and topic prefix): listed, replayed."""

    bootstrap: str
    prefix: str = ""
    options: Mapping[str, Any] | None = None  # aiokafka's, for a secured broker

    async def kept(self) -> list[tuple[str, DeadLetter]]:
        return await dead_letters(self.bootstrap, self.prefix, self.options)

    async def replay(self, event_id: UUID) -> Replayed:
        return await replay(self.bootstrap, self.prefix, event_id, self.options)
