"""One consumer pipeline for every subscriber. A subscriber names its topics, its payload
type and its dead-letter topic, and gives the work to do on a batch of events; the pipeline
does the rest, the same way everywhere:

1. a batch of up to `BATCH_SIZE` records is fetched and read as typed events (the AsyncAPI
   document shows the payload); a record that is not such an event is dead-lettered, sealed
   (it may hold patient details in clear), and the rest go on;
2. an event delivered twice in one batch is taken once;
3. the work runs on the batch together; if it fails for a reason a retry cannot fix, each
   event runs alone and only those that fail alone are dead-lettered, kept as they were;
   the events the work itself refuses (`Rejected`) are dead-lettered with its reason;
4. a transient fault (PostgreSQL or Kafka away) pauses, backed off, and the batch is fetched
   again: the offset is committed only after the batch was handled (at least once; the
   work is idempotent by its inbox).

Hand-written because FastStream validates a batch whole: one bad record would stop the
partition."""

# No `from __future__ import annotations`: FastStream reads the subscriber's signature, whose
# payload type is the subscriber's own.
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from faststream._internal.context import Context  # the class (`faststream.Context` builds one)
from faststream.kafka import KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import TypeAdapter, ValidationError

from shared import tracing
from shared.dead_letters import REPLAYED_FROM, DeadLetters
from shared.poison import Backoff, isolate, why
from shared.submission import describe

# Up to this many events share one transaction and one offset commit.
BATCH_SIZE = 500
# How long a fetch waits for the first event when none is buffered. FastStream then sleeps as
# long again before the next fetch when it found none, so an event arriving after a quiet
# moment waited up to twice this at each hop (FastStream's default, 200 ms, made 0.4 s at
# each of four hops). A fetch returns at once when events are buffered: under load this
# changes nothing; idle, each subscriber wakes 20 times a second.
BATCH_WAIT_MS = 25

# At-least-once consumption: the offset is committed only after the handler returned; on an
# exception the consumer seeks back and the message is delivered again.
SUBSCRIBER_DEFAULTS: dict[str, Any] = {
    "ack_policy": AckPolicy.NACK_ON_ERROR,
    "auto_offset_reset": "earliest",
}

E = TypeVar("E")


class _OnTheLoop(Context):
    """FastStream's `Context`, resolved on the event loop: fast_depends runs a custom field's
    synchronous `use` in a worker thread, a thread hop (and a GIL handover) for every batch."""

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return super().use(**kwargs)


TheMessage = Annotated[KafkaMessage, _OnTheLoop("message")]


@dataclass(frozen=True)
class Rejected(Generic[E]):
    """An event the work will not take, and why (for its dead letter). `readable=False`
    when its original may hold details in clear, so that it is sealed."""

    event: E
    reason: str
    readable: bool = True


@dataclass(frozen=True)
class Batch(Generic[E]):
    """The events of one fetch (or of one of them alone, when it is isolated), each once,
    with the topic each came from."""

    events: list[E]
    topics: Mapping[UUID, str]
    replayed: frozenset[UUID] = frozenset()  # events an operator replayed from dead letters

    def topic(self, event: E) -> str:
        return self.topics[event.event_id]  # type: ignore[attr-defined]


Work = Callable[[Batch[E]], Awaitable[Sequence[Rejected[E]]]]


@dataclass(frozen=True)
class _Read:
    """What the decoder found beside the events it gives the handler: the record of each
    (in order) and the records that were not events, with why."""

    records: list[Any]
    unreadable: list[tuple[Any, str]]


def subscribe(
    router: KafkaRouter,
    *topics: str,
    payload: Any,
    what: str,
    group_id: str,
    description: str,
    dead_letters: DeadLetters,
    work: Work[Any],
    name: str,
    batch_size: int = BATCH_SIZE,
) -> Callable[..., Awaitable[None]]:
    """Subscribe `work` to `topics` through the pipeline; returns the subscriber, named
    `on_<name>` (its AsyncAPI channel and payload are named after it)."""
    backoff = Backoff(dead_letters.source)
    adapter: TypeAdapter[Any] = TypeAdapter(payload)

    async def decode(message: Any) -> list[Any]:
        events, read = [], _Read([], [])
        for record in _records(message):
            try:
                events.append(adapter.validate_json(record.value or b""))
                read.records.append(record)
            except ValidationError as error:
                read.unreadable.append((record, f"not {what}: {describe(error)}"))
        message.pipeline_read = read
        return events

    async def on_batch(events: list[payload], message: TheMessage) -> None:
        async with backoff.guard():
            await take(events, message.pipeline_read, work, dead_letters)  # type: ignore[attr-defined]

    on_batch.__name__ = on_batch.__qualname__ = f"on_{name}"
    router.subscriber(
        *topics,
        group_id=group_id,
        description=description,
        batch=True,
        max_records=batch_size,
        batch_timeout_ms=BATCH_WAIT_MS,
        decoder=decode,
        **SUBSCRIBER_DEFAULTS,
    )(on_batch)
    return on_batch


async def take(
    events: Sequence[Any], read: _Read, work: Work[Any], dead_letters: DeadLetters
) -> None:
    """Steps 1 to 3 for one decoded batch."""
    for record, reason in read.unreadable:
        await dead_letters.send(record, reason, readable=False)
    record_of: dict[UUID, Any] = {}
    fresh: list[Any] = []
    for event, record in zip(events, read.records, strict=True):
        if event.event_id not in record_of:  # delivered twice in one batch: once is enough
            record_of[event.event_id] = record
            fresh.append(event)

    topics = {event_id: record.topic for event_id, record in record_of.items()}
    replayed = frozenset(event_id for event_id, record in record_of.items() if _replayed(record))

    # Each event's trace goes on from its record (a batch's own span only links to them).
    traces = tracing.received(
        (
            e.correlation_id,
            record_of[e.event_id].topic,
            tracing.headers_of(record_of[e.event_id].headers),
        )
        for e in fresh
    )

    async def together(events: Sequence[Any]) -> Sequence[Rejected[Any]]:
        with tracing.incoming(traces):
            return await work(Batch(list(events), topics, replayed & {e.event_id for e in events}))

    async def alone(event: Any, error: BaseException) -> None:
        await dead_letters.send(record_of[event.event_id], why(error), readable=True)

    for rejected in await isolate(fresh, together, alone):
        await dead_letters.send(
            record_of[rejected.event.event_id], rejected.reason, readable=rejected.readable
        )


def _replayed(record: Any) -> bool:
    return any(name == REPLAYED_FROM for name, _value in (record.headers or ()))


def _records(message: Any) -> tuple[Any, ...]:
    records = message.raw_message
    return tuple(records) if isinstance(records, tuple | list) else (records,)
