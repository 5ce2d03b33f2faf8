"""The outbox relay on the real servers: an event enqueued while the previous batch is being
published goes out at once, not at the next fallback poll; one key's events go out in the
order written, by one relay or by two."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from devstack.topics import ensure_topics
from shared import outbox, topics
from shared.contracts import DeadLetter, Event
from shared.database import Database
from shared.kafka import started_producer
from shared.metrics import REGISTRY
from tests.integration.router.test_router_service import received
from tests.support.kafka_reader import body, wait_for
from tests.support.servers import Servers

ROUTER_MIGRATIONS = Path(__file__).parents[2] / "services" / "router" / "migrations"


class SlowFirstSend:
    """The real producer, but the first send takes half a second: a window to enqueue into."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self.publishing = asyncio.Event()

    async def send(self, *args: Any, **options: Any) -> Any:
        if not self.publishing.is_set():
            self.publishing.set()
            await asyncio.sleep(0.5)
        return await self.producer.send(*args, **options)


async def test_an_event_enqueued_while_a_batch_is_published_goes_out_at_once(
    servers: Servers, db_schema: str, topic_prefix: str
) -> None:
    await ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix)
    database = Database(servers.database_url, db_schema, ROUTER_MIGRATIONS)
    await database.open()
    first, second = received(), received()

    async def enqueue(event: Event) -> None:
        async with database.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, event, key="k")

    try:
        async with started_producer(servers.kafka_bootstrap, "test-relay", None) as producer:
            slow = SlowFirstSend(producer)
            # A poll far longer than the test: only the NOTIFY wake-ups can publish in time.
            relay = outbox.OutboxRelay(
                database.pool, slow, db_schema, topic_prefix=topic_prefix, poll_interval=300
            )
            running = asyncio.create_task(relay.run())
            await enqueue(first)
            await asyncio.wait_for(slow.publishing.wait(), 10)
            await enqueue(second)  # its NOTIFY arrives while the first batch is in flight
            wanted = {str(first.event_id), str(second.event_id)}
            published = await wait_for(
                servers.kafka_bootstrap,
                topic_prefix + "referrals.received",
                lambda r: body(r)["event_id"] in wanted,
                count=2,
                within=15,
                settle=0,
            )
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    finally:
        await database.close()
    assert sorted(body(r)["event_id"] for r in published) == sorted(wanted)
    # What FastStream's consumers read beside the body: the correlation id and content type.
    correlation = {str(e.event_id): e.correlation_id.encode() for e in (first, second)}
    headers = [dict(r.headers) for r in published]
    assert [h["correlation_id"] for h in headers] == [
        correlation[body(r)["event_id"]] for r in published
    ]
    assert {h["content-type"] for h in headers} == {b"application/json"}
    assert {h["event-type"] for h in headers} == {b"ReferralReceived"}


async def test_an_event_the_broker_refuses_is_parked_and_the_others_go_out(
    servers: Servers, db_schema: str, topic_prefix: str
) -> None:
    await ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix)
    database = Database(servers.database_url, db_schema, ROUTER_MIGRATIONS)
    await database.open()
    too_large = DeadLetter(
        correlation_id="c",
        source_topic="t",
        source_partition=0,
        source_offset=0,
        reason="x" * (2 * 1024 * 1024),  # over the producer's 1 MiB limit
    )
    after = received()
    try:
        async with database.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, too_large, key="k", topic=topics.REFERRAL_RECEIVED_DLQ)
            await outbox.enqueue(conn, after, key="k")
        async with started_producer(servers.kafka_bootstrap, "test-relay", None) as producer:
            relay = outbox.OutboxRelay(
                database.pool, producer, db_schema, topic_prefix=topic_prefix
            )
            counted = _published("referrals.received")
            assert await relay.publish_pending() == 2
            assert _published("referrals.received") == counted + 1  # the parked one is not
            assert await relay.publish_pending() == 0  # nothing left to hold the others back
        async with database.pool.acquire() as conn:
            parked = await conn.fetch(
                "SELECT event_id, parked_reason FROM outbox WHERE parked_at IS NOT NULL"
            )
            unpublished = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
            )
    finally:
        await database.close()
    assert [(r["event_id"], r["parked_reason"]) for r in parked] == [
        (too_large.event_id, "cannot be processed (MessageSizeTooLargeError)")
    ]
    assert unpublished == 0
    published = await wait_for(
        servers.kafka_bootstrap,
        topic_prefix + "referrals.received",
        lambda r: body(r)["event_id"] == str(after.event_id),
        settle=0,
    )
    assert len(published) == 1


def _published(topic: str) -> float:
    return REGISTRY.get_sample_value("outbox_published_total", {"topic": topic}) or 0.0


async def test_a_transactions_events_go_out_in_the_order_they_were_written(
    servers: Servers, db_schema: str, topic_prefix: str
) -> None:
    """They share the transaction's created_at; their ids are random: the order written is
    what a consumer of one referral's events must see."""
    await ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix)
    database = Database(servers.database_url, db_schema, ROUTER_MIGRATIONS)
    await database.open()
    events = [received() for _ in range(30)]
    try:
        async with database.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue_many(conn, [(e, "one-referral", None) for e in events])
        async with started_producer(servers.kafka_bootstrap, "test-relay", None) as producer:
            relay = outbox.OutboxRelay(
                database.pool, producer, db_schema, topic_prefix=topic_prefix
            )
            assert await relay.publish_pending() == len(events)
        published = await wait_for(
            servers.kafka_bootstrap,
            topic_prefix + "referrals.received",
            lambda r: r.key == b"one-referral",
            count=len(events),
            within=15,
            settle=0,
        )
    finally:
        await database.close()
    assert [body(r)["event_id"] for r in published] == [str(e.event_id) for e in events]


class Recorded:
    """A producer that notes each event it is given, in order, into a log shared by the
    relays; with a gate, it holds its first send until the test opens it."""

    def __init__(self, log: list[str], gate: asyncio.Event | None = None) -> None:
        self.log, self.gate = log, gate
        self.sending = asyncio.Event()

    async def send(self, topic: str, value: bytes, **_: Any) -> Any:
        self.sending.set()
        if self.gate is not None:
            await self.gate.wait()
        self.log.append(json.loads(value)["event_id"])
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_two_relays_publish_one_keys_events_in_the_order_they_were_written(
    servers: Servers, db_schema: str
) -> None:
    """Two processes of a service relay one outbox: while one publishes a batch, the other
    must not publish the rows after it (they would reach the partition first)."""
    database = Database(servers.database_url, db_schema, ROUTER_MIGRATIONS)
    await database.open()
    events = [received() for _ in range(4)]
    log: list[str] = []
    gate = asyncio.Event()
    stalled, other = Recorded(log, gate), Recorded(log)
    try:
        async with database.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue_many(conn, [(e, "one-referral", None) for e in events])
        first = outbox.OutboxRelay(database.pool, stalled, db_schema, batch_size=2)
        second = outbox.OutboxRelay(database.pool, other, db_schema, batch_size=2)
        publishing = asyncio.create_task(first.publish_pending())
        await asyncio.wait_for(stalled.sending.wait(), 10)  # the first batch is in flight
        taken_meanwhile = await second.publish_pending()
        gate.set()
        assert await publishing == 2
        taken_after = await second.publish_pending()
    finally:
        await database.close()
    assert taken_meanwhile == 0
    assert taken_after == 2
    assert log == [str(e.event_id) for e in events]
