"""Reading topics from their beginning to their current end (dead letters, the ops views,
the tests and benchmarks), with aiokafka's consumer and no consumer group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition


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


async def read_to_end(
    bootstrap: str, *names: str, within: float = 60.0, options: Mapping[str, Any] | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record now on the topics, from the beginning to their current ends (`options`:
    aiokafka's, such as `shared.kafka.client_options` for a secured broker)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(options or {}),
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
