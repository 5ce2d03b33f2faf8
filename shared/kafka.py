"""FastStream Kafka broker factory with production producer and consumer settings."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from pydantic import TypeAdapter, ValidationError

from shared.contracts import DeadLetter, Event
from shared.logging import correlation, get_logger
from shared.metrics import DEAD_LETTERS, REGISTRY
from shared.poison import isolate, why
from shared.sealed import seal
from shared.submission import describe

log = get_logger(__name__)

# At-least-once consumption: the offset is committed only after the handler returned; on an
# exception the consumer seeks back and the message is delivered again. Handlers are
# idempotent (inbox tables keyed by event id), so redelivery is harmless.
CONSUMER_ACK_POLICY = AckPolicy.NACK_ON_ERROR

# Every subscriber passes these (FastStream's FastAPI integration has no broker-wide policy).
SUBSCRIBER_DEFAULTS: dict[str, Any] = {
    "ack_policy": CONSUMER_ACK_POLICY,
    "auto_offset_reset": "earliest",
}


class CorrelationIdMiddleware(BaseMiddleware):
    """Binds the message's correlation id to every log line its handler writes."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        with correlation(str(msg.correlation_id)):
            return await call_next(msg)


def broker_options(client_id: str, **overrides: Any) -> dict[str, Any]:
    """Production settings: acks=all and an idempotent producer, so a retried send never
    writes a message twice nor loses one a leader had acknowledged."""
    options: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "client_id": client_id,
        "middlewares": (
            CorrelationIdMiddleware,
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=client_id),
        ),
        "logger": logging.getLogger(f"{client_id}.kafka"),
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return options


def bootstrap_list(bootstrap_servers: str) -> list[str]:
    """KAFKA_BOOTSTRAP_SERVERS as the list FastStream needs: given one string it takes the
    whole of "a:9092,b:9092" for a single host and cannot connect to a cluster."""
    return [server.strip() for server in bootstrap_servers.split(",") if server.strip()]


def build_broker(bootstrap_servers: str, client_id: str, **overrides: Any) -> KafkaBroker:
    """A standalone broker (tools, tests) with the same settings as the services'."""
    return KafkaBroker(bootstrap_list(bootstrap_servers), **broker_options(client_id, **overrides))


def document_outbox_events(
    router: KafkaRouter, prefix: str, events: tuple[type[Event], ...]
) -> None:
    """Declare the events the outbox relay publishes (it sends through the broker, by topic
    name), so that the service's AsyncAPI document lists them with their schemas."""
    for event in events:
        router.publisher(
            event.TOPIC.qualified(prefix), schema=event, description=event.TOPIC.description
        )


async def publish_events(
    bootstrap_servers: str,
    events: Sequence[Event],
    *,
    topic_prefix: str = "",
    client_id: str = "tools",
) -> None:
    """For tools, tests and benchmarks: publish events on their own topics (in a namespace),
    keyed by their referral when they have one, waiting for every acknowledgement once."""
    async with build_broker(bootstrap_servers, client_id) as broker:
        pending = [
            await publish_event(
                broker,
                event,
                key=str(getattr(event, "referral_id", None) or event.event_id),
                topic=event.TOPIC.qualified(topic_prefix),
                no_confirm=True,
            )
            for event in events
        ]
        await asyncio.gather(*pending)


def batch_records(message: Any) -> tuple[Any, ...]:
    """The consumer records of a batch subscriber's message."""
    records = message.raw_message
    return tuple(records) if isinstance(records, (tuple, list)) else (records,)


E = TypeVar("E")
R = TypeVar("R")


@dataclass(frozen=True)
class ReadBatch(Generic[E]):
    """A fetched batch, read: each event with the record it came in, and each record that is
    not such an event, with why (for its dead letter)."""

    events: list[tuple[E, Any]]
    unreadable: list[tuple[Any, str]]


def typed_batch(event_type: Any, what: str) -> Callable[[Any], Awaitable[list[Any]]]:
    """A batch subscriber's decoder: the handler takes `list[<event_type>]` (so the AsyncAPI
    document shows the payload's schema), and a record that is not such an event is set
    aside instead of failing the whole batch. `read_batch(message)` gives both.

    Hand-written because FastStream validates a batch whole: one bad record would stop the
    partition."""
    adapter: TypeAdapter[Any] = TypeAdapter(event_type)

    async def decode(message: Any) -> list[Any]:
        events: list[tuple[Any, Any]] = []
        unreadable: list[tuple[Any, str]] = []
        for record in batch_records(message):
            try:
                events.append((adapter.validate_json(record.value or b""), record))
            except ValidationError as error:
                unreadable.append((record, f"not {what}: {describe(error)}"))
        message.read_batch = ReadBatch(events, unreadable)
        return [event for event, _ in events]

    return decode


def read_batch(message: Any) -> ReadBatch[Any]:
    """What `typed_batch` read from this message."""
    batch: ReadBatch[Any] = message.read_batch
    return batch


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

    async def process(
        self,
        batch: ReadBatch[E],
        work: Callable[[list[E]], Awaitable[Sequence[R]]],
        events: Sequence[tuple[E, Any]] | None = None,
    ) -> list[R]:
        """A read batch handled as every consumer handles one: what could not be read is
        dead-lettered (sealed, as it may hold details in clear); `events` (the batch's, unless
        given, for instance without repeats) go to `work` together, and one that fails alone
        for a reason a retry cannot fix is dead-lettered as it was. Transient faults propagate:
        the batch comes again."""
        for record, reason in batch.unreadable:
            await self.send(record, reason, readable=False)

        async def together(items: Sequence[tuple[E, Any]]) -> Sequence[R]:
            return await work([event for event, _record in items])

        async def alone(item: tuple[E, Any], error: BaseException) -> None:
            await self.send(item[1], why(error), readable=True)

        return await isolate(list(batch.events if events is None else events), together, alone)

    async def send(self, record: Any, reason: str, *, readable: bool) -> None:
        await dead_letter(
            self.publisher,
            record,
            reason,
            readable=readable,
            seal_to=self.seal_to,
            source=self.source,
        )


def event_headers(event: Event) -> dict[str, str]:
    """Headers that let ops tools decode a message without reading its body first."""
    return {"event-type": type(event).__name__, "schema-version": str(event.schema_version)}


async def publish_event(publisher: Any, event: Event, key: str, **options: Any) -> Any:
    """Publish an event keyed by its referral (so a referral's events keep their order).

    `publisher` is a FastStream publisher, or a broker with `topic=` in `options`."""
    return await publisher.publish(
        event.model_dump(mode="json"),
        key=key.encode(),
        correlation_id=event.correlation_id,
        headers=event_headers(event),
        **options,
    )
