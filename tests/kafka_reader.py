"""Read what is on a real topic, from the beginning, for assertions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

Record = ConsumerRecord[bytes, bytes]


async def read_all(bootstrap: str, topic: str) -> list[Record]:
    """Every record now on `topic` (up to its current end offsets)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in partitions]
        if not assigned:
            return []
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        await consumer.seek_to_beginning(*assigned)
        records: list[Record] = []
        remaining = {tp for tp in assigned if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, found in batch.items():
                records.extend(found)
                if found and found[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


async def wait_for(
    bootstrap: str,
    topic: str,
    matches: Callable[[Record], bool],
    *,
    count: int = 1,
    within: float = 30.0,
    settle: float = 1.0,
) -> list[Record]:
    """The records matching, once at least `count` are there; then waits `settle` seconds
    and reads again, so that a duplicate arriving late is seen too."""
    deadline = time.monotonic() + within
    while True:
        found = [r for r in await read_all(bootstrap, topic) if matches(r)]
        if len(found) >= count:
            await asyncio.sleep(settle)
            return [r for r in await read_all(bootstrap, topic) if matches(r)]
        if time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


def body(record: Record) -> dict[str, Any]:
    assert record.value is not None
    value: dict[str, Any] = json.loads(record.value)
    return value
