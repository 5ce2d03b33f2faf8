"""Read what is on a real topic, from the beginning, for assertions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord

from shared.topic_reading import read_to_end as read_all

Record = ConsumerRecord[bytes, bytes]


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
