"""Transactional outbox: an event is written in the same PostgreSQL transaction as the
state it describes, and a relay publishes it to Kafka afterwards.

If the process dies between commit and publish, the row is still there and the next relay
publishes it. If it dies between publish and marking the row, the event goes out twice with
the same `event_id`, which consumers dedupe on. The tables are each service's `outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

import asyncpg

from shared import tracing
from shared.contracts import Event
from shared.database import Connection
from shared.kafka import event_headers
from shared.logging import get_logger
from shared.metrics import OUTBOX_PARKED, OUTBOX_PUBLISHED
from shared.poison import is_transient, why
from shared.topics import Topic

log = get_logger(__name__)

NOTIFY_CHANNEL_SUFFIX = "_outbox"  # `<schema>_outbox`: where the insert trigger notifies
JSON_CONTENT = {"content-type": "application/json"}  # what FastStream says of a JSON body


class Producer(Protocol):
    """aiokafka's producer, as the relay uses it (`shared.kafka.started_producer`)."""

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]: ...


Queued = tuple[Event, str, Topic | None]  # the event, its key, a topic other than its own


async def enqueue(conn: Connection, event: Event, key: str, topic: Topic | None = None) -> None:
    """Add `event` to the outbox (on its own topic unless `topic` is given, as for dead
    letters); call inside the transaction that changes the state."""
    await enqueue_many(conn, [(event, key, topic)])


async def enqueue_many(conn: Connection, events: Sequence[Queued]) -> None:
    """Add several events in one statement (a batch's decisions): one execution and one
    firing of the wake-up trigger for the batch, not one of each per event; the relay wakes
    at commit."""
    if not events:
        return
    # The payload goes in as pydantic's own JSON text (no dict built, no second encoder).
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, payload, headers)"
        " SELECT e.id, e.topic, e.key, e.payload::jsonb, e.headers"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[])"
        "  WITH ORDINALITY AS e (id, topic, key, payload, headers, n)"
        " ORDER BY e.n"  # each row's seq in the order given: the relay publishes by it
        " ON CONFLICT (event_id) DO NOTHING",
        [e.event_id for e, _, _ in events],
        [(topic or e.TOPIC).name for e, _, topic in events],
        [key for _, key, _ in events],
        [e.model_dump_json() for e, _, _ in events],
        [event_headers(e) | tracing.for_event(e.correlation_id) for e, _, _ in events],
    )
    # The insert's trigger (migration 018) wakes the relay at commit, not at its next poll.


class OutboxRelay:
    """Publishes unpublished rows in the order they were written (`seq`), a batch per
    transaction.

    One relay publishes at a time: a batch is taken under a transaction-scoped advisory lock
    on the outbox, and a relay (of another process of the service) that finds it held takes
    nothing, leaving the rows to the one publishing, woken by the same NOTIFY. Two batches in
    flight at once could put one key's later event on its partition before an earlier one;
    one batch at a time, and the idempotent producer (acks=all), make each send land once, in
    the order written, whichever process relays it. A relay that dies mid-batch lets the lock
    go with its transaction.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: Producer,
        schema: str,
        *,
        topic_prefix: str = "",
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.channel = f"{schema}{NOTIFY_CHANNEL_SUFFIX}"
        self.lock_name = f"outbox:{schema}"  # the advisory lock one relay publishes under
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()

    async def publish_pending(self) -> int:
        """Publish one batch; return how many events it held."""
        async with self.pool.acquire() as conn, conn.transaction():
            # The payload comes out as text and goes to Kafka as it is: never decoded into
            # Python values only to be encoded again.
            # The lock is tried once per batch (a one-time filter); held elsewhere: no rows.
            rows = await conn.fetch(
                "SELECT event_id, topic, key, payload::text AS body,"
                " payload->>'correlation_id' AS correlation_id, headers FROM outbox"
                " WHERE published_at IS NULL AND parked_at IS NULL"
                " AND (SELECT pg_try_advisory_xact_lock(hashtext($2)))"
                " ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
                self.lock_name,
            )
            if not rows:
                return 0
            # Send the whole batch before waiting: one round of acks, not one per event.
            pending = [await self._send(row) for row in rows]
            outcomes = await asyncio.gather(*pending, return_exceptions=True)
            # Mark what the broker acknowledged, even if some sends failed, so that a retry
            # republishes only the rest (a repeat would be harmless, but noise for consumers).
            sent = [
                r for r, o in zip(rows, outcomes, strict=True) if not isinstance(o, BaseException)
            ]
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE event_id = ANY($1::uuid[])",
                [r["event_id"] for r in sent],
            )
            # One event the broker refuses for good must not hold back the others: it is
            # parked with the reason (logged, counted, kept in the table) and the rest go on.
            refused = [
                (r, o)
                for r, o in zip(rows, outcomes, strict=True)
                if isinstance(o, Exception) and not is_transient(o)
            ]
            for row, error in refused:
                await conn.execute(
                    "UPDATE outbox SET parked_at = now(), parked_reason = $2 WHERE event_id = $1",
                    row["event_id"],
                    why(error),
                )
                OUTBOX_PARKED.inc()
                log.error(
                    "outbox event parked",
                    event_id=str(row["event_id"]),
                    topic=row["topic"],
                    fault=type(error).__name__,
                )
        for topic, count in Counter(r["topic"] for r in sent).items():
            OUTBOX_PUBLISHED.labels(topic).inc(count)
        failed = [o for o in outcomes if isinstance(o, BaseException) and is_transient(o)]
        if failed:
            raise failed[0]
        log.debug("outbox published", events=len(rows))
        return len(rows)

    async def _send(self, row: Any) -> Awaitable[Any]:
        """Start one send; a refusal raised at once (a message over the producer's limit)
        comes back as an awaitable failure, like one the broker answers later."""
        topic, correlation_id = self.topic_prefix + row["topic"], row["correlation_id"]
        # The headers FastStream's consumers read (its correlation id and content type), and
        # the event's trace, continued by a span for this hop when tracing is on.
        headers = tracing.published(topic, correlation_id, row["headers"]) | JSON_CONTENT
        headers["correlation_id"] = correlation_id
        try:
            return await self.producer.send(
                topic,
                value=row["body"].encode(),
                key=row["key"].encode(),
                headers=[(name, value.encode()) for name, value in headers.items()],
            )
        except Exception as error:
            return _raise(error)

    async def run(self) -> None:
        """Relay until cancelled: woken by NOTIFY, polling as a fallback, backing off on
        errors (Kafka or PostgreSQL away) without losing anything."""
        listener: Any = None
        backoff = self.poll_interval
        try:
            while True:
                try:
                    if not _alive(listener):
                        await self._unlisten(listener)
                        listener = await self._listen()
                    # Cleared before the read, so a NOTIFY arriving while this batch is
                    # published wakes the next round at once instead of after a poll interval.
                    self._wake.clear()
                    published = await self.publish_pending()
                    backoff = self.poll_interval
                except Exception as error:  # the relay outlives any outage
                    log.warning("outbox relay retrying", error=type(error).__name__, wait=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                if published < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            if listener is not None:
                await self._unlisten(listener)

    def _woken(self, *_: object) -> None:
        self._wake.set()

    async def _listen(self) -> Any:
        conn = await self.pool.acquire()
        try:
            await conn.add_listener(self.channel, self._woken)
        except BaseException:
            await self.pool.release(conn)
            raise
        return conn

    async def _unlisten(self, conn: Any) -> None:
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if not conn.is_closed():
                await conn.remove_listener(self.channel, self._woken)
        # A connection lost with PostgreSQL may already be back in the pool: nothing to do.
        with contextlib.suppress(asyncpg.InterfaceError):
            await self.pool.release(conn)


def _alive(listener: Any) -> bool:
    """Whether the LISTEN connection still works. After PostgreSQL went away, asyncpg may
    already have taken it back into the pool, and then even asking raises."""
    if listener is None:
        return False
    try:
        return not listener.is_closed()
    except asyncpg.InterfaceError:
        return False


async def _raise(error: Exception) -> None:
    raise error
