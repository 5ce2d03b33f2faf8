"""Concurrent callers' items written together (`shared.group_commit`), over a write that
records its batches: what arrives during a write goes in the next one, each caller gets its
own result, and one item's fault stays its own."""

from __future__ import annotations

import asyncio

import pytest

from shared.group_commit import GroupCommit
from shared.poison import Transient


class Writes:
    """Doubles each item; the first write waits until released, so that callers pile up."""

    def __init__(self, poisoned: int | None = None, fault: Exception | None = None) -> None:
        self.batches: list[list[int]] = []
        self.writing, self.released = asyncio.Event(), asyncio.Event()
        self.poisoned, self.fault = poisoned, fault

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        self.writing.set()
        if len(self.batches) == 1:
            await self.released.wait()
        if self.fault is not None:
            raise self.fault
        if self.poisoned in items:
            raise ValueError("a value this write cannot take")
        return [2 * i for i in items]


async def test_items_arriving_during_a_write_go_together_in_the_next() -> None:
    write = Writes()
    together = GroupCommit(write, most=3)
    first = asyncio.create_task(together.submit(0))
    await write.writing.wait()  # the first write is in flight, with the first item alone
    rest = [asyncio.create_task(together.submit(i)) for i in range(1, 8)]
    write.released.set()  # the writer wakes after the callers above have queued their items
    assert await asyncio.gather(first, *rest) == [2 * i for i in range(8)]
    assert write.batches == [[0], [1, 2, 3], [4, 5, 6], [7]]


async def test_a_fault_of_one_item_is_its_own() -> None:
    write = Writes(poisoned=2)
    together = GroupCommit(write)
    first = asyncio.create_task(together.submit(0))
    await write.writing.wait()
    rest = [asyncio.create_task(together.submit(i)) for i in range(1, 4)]
    write.released.set()
    answers = await asyncio.gather(first, *rest, return_exceptions=True)
    assert answers[:2] == [0, 2]
    assert answers[3] == 6
    assert isinstance(answers[2], ValueError)
    assert write.batches == [[0], [1, 2, 3], [1], [2], [3]]  # the batch, then one by one


async def test_a_transient_fault_reaches_every_caller_at_once() -> None:
    write = Writes(fault=Transient("PostgreSQL away"))
    write.released.set()
    together = GroupCommit(write)
    answers = await asyncio.gather(*(together.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(a, Transient) for a in answers)
    assert write.batches == [[0, 1, 2]]  # written together, and no item tried again alone


@pytest.mark.parametrize("most", [1, 2])
async def test_no_write_holds_more_than_most(most: int) -> None:
    write = Writes()
    write.released.set()
    together = GroupCommit(write, most=most)
    assert await asyncio.gather(*(together.submit(i) for i in range(5))) == [0, 2, 4, 6, 8]
    assert max(len(b) for b in write.batches) <= most
