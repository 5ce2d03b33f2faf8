"""Topics, offsets and consumer-group lag, read with aiokafka's admin client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.topics import ALL_TOPICS


@dataclass(frozen=True)
class TopicView:
    name: str
    partitions: int
    end_offsets: int
    lag_by_group: dict[str, int]


async def partitions_of(
    consumer: AIOKafkaConsumer, names: list[str], *, within: float = 10.0
) -> dict[str, list[TopicPartition]]:
    """The partitions of each named topic that exists. A metadata answer can come back failed
    or without a topic's leaders while the broker is busy, so it asks again until every topic
    is known or `within` seconds pass; a topic still unknown then is left out (it has no
    records)."""
    deadline = time.monotonic() + within
    while True:
        updated = await consumer._client.force_metadata_update()
        known = {n: consumer.partitions_for_topic(n) for n in names}
        if (updated and all(known.values())) or time.monotonic() > deadline:
            return {n: [TopicPartition(n, p) for p in sorted(ps)] for n, ps in known.items() if ps}
        await asyncio.sleep(0.2)


async def topic_views(bootstrap: str, prefix: str) -> list[TopicView]:
    names = [t.qualified(prefix) for t in ALL_TOPICS]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        existing = set(await admin.list_topics())
        partitions = await partitions_of(consumer, [n for n in names if n in existing])
        ends = await consumer.end_offsets([tp for tps in partitions.values() for tp in tps])
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group, _protocol in await admin.list_consumer_groups():
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
        views = []
        for name, tps in partitions.items():
            lag = {
                group: sum(ends[tp] - offsets[tp] for tp in tps if tp in offsets)
                for group, offsets in committed.items()
                if any(tp in offsets for tp in tps)
            }
            views.append(TopicView(name, len(tps), sum(ends[tp] for tp in tps), lag))
        return views
    finally:
        await consumer.stop()
        await admin.close()


async def follow(
    bootstrap: str, topic: str, *, from_beginning: bool
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        async for record in consumer:
            yield record
    finally:
        await consumer.stop()


def readable(record: ConsumerRecord[bytes, bytes]) -> str:
    """One event as a line: where, what type, then its fields (topics hold no identifiers)."""
    headers = {k: v.decode(errors="replace") for k, v in record.headers}
    try:
        body: Any = json.loads(record.value or b"")
    except ValueError:
        body = (record.value or b"")[:200].decode(errors="replace")
    kind = headers.get("event-type", "?")
    where = f"{record.topic}[{record.partition}]@{record.offset}"
    text = json.dumps(body, sort_keys=True) if isinstance(body, dict) else str(body)
    return f"{where} {kind} {text}"


async def read_to_end(
    bootstrap: str, *names: str, within: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record now on the topics, from the beginning to their current ends."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [tp for tps in (await partitions_of(consumer, list(names))).values() for tp in tps]
        if not tps:
            return []
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        # An explicit seek: seek_to_beginning can lose to the reset that assign() started,
        # which then leaves the position at the end and the read empty.
        for tp, first in (await consumer.beginning_offsets(tps)).items():
            consumer.seek(tp, first)
        records: list[ConsumerRecord[bytes, bytes]] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + within
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read to the end of {sorted(map(str, remaining))}")
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=10_000)
            for tp, found in batch.items():
                records += [r for r in found if r.offset < ends[tp]]
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return records
    finally:
        await consumer.stop()
