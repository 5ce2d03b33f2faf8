"""A batch is handled on the event loop, start to end: FastStream's `Context` field (the Kafka
message the handler is given) would otherwise be resolved in a worker thread for every batch
(fast_depends runs a synchronous field that way), a thread hop and a GIL handover each."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import anyio.to_thread
import pytest
from faststream.kafka import KafkaBroker, KafkaRouter, TestKafkaBroker
from pydantic import BaseModel

from shared.consumer import Batch, Rejected, subscribe
from shared.dead_letters import DeadLetters


class Thing(BaseModel):
    event_id: UUID


async def test_a_batch_is_handled_without_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hops: list[Any] = []
    real_run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real_run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    handled: list[Thing] = []

    async def keep(batch: Batch[Thing]) -> list[Rejected[Thing]]:
        handled.extend(batch.events)
        return []

    router = KafkaRouter()
    dead_letters = DeadLetters(router.publisher("t.dlq"), seal_to=None, source="t")
    subscribe(
        router, "t", payload=Thing, what="a thing", group_id="g", description="d",
        dead_letters=dead_letters, work=keep, name="t",
    )  # fmt: skip
    broker = KafkaBroker()
    broker.include_router(router)
    thing = uuid4()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({"event_id": str(thing)}, "t")
    assert [t.event_id for t in handled] == [
        thing
    ]  # the handler was given its message, so it ran through
    assert hops == []
