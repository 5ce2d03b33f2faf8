"""Dead letters: a message a consumer cannot handle goes to its dead-letter topic with the
reason, its original kept as it was (a well-formed event) or sealed to the operators' key
(bytes that may hold patient details in clear), so that nothing is dropped and the topic
stays safe to watch. `ops dlq replay` sends one back."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from shared.contracts import DeadLetter
from shared.kafka import publish_event
from shared.logging import get_logger
from shared.metrics import DEAD_LETTERS
from shared.sealed import seal

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
