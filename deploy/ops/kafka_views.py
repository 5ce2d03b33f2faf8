"""Topics, offsets and consumer-group lag, read with aiokafka's admin client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.topic_reading import partitions_of
from shared.topics import ALL_TOPICS


@dataclass(frozen=True)
class TopicView:
    name: str
    partitions: int
    end_offsets: int
    lag_by_group: dict[str, int]


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
