"""Read what is on a real topic, from the beginning, for assertions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

Record = ConsumerRecord[bytes, bytes]


async def read_all(bootstrap: str, *topics: str, within: float = 60.0) -> list[Record]:
    """Every record now on `topics` (up to their current end offsets), with one consumer."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # see new topics now
        assigned = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        if not assigned:
            return []
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        await consumer.seek_to_beginning(*assigned)
        records: list[Record] = []
        remaining = {tp for tp in assigned if ends[tp] > 0}
        deadline = time.monotonic() + within
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read to the end of {sorted(map(str, remaining))}")
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=10_000)
            for tp, found in batch.items():
                records.extend(r for r in found if r.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
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
