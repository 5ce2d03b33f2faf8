"""Writes from concurrent callers made together (group commit). A statement and a commit for
each HTTP request cost more than the rest of its handling, so the items that arrive while a
write is in flight wait for it and go together in the next: under load a transaction carries
many, and an item alone is written at once. Each caller still waits for its own item to be
written, and gets its own result.

Hand-written: the pattern is a few lines over asyncio, and no library offers it for asyncpg."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from shared.poison import is_transient

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """`write` takes a batch and returns one result per item, in order. A batch of several
    that fails for a reason a retry cannot fix is written again item by item, so that one
    item's fault is its own; a transient fault (PostgreSQL away) reaches every caller."""

    def __init__(
        self, write: Callable[[list[T]], Awaitable[Sequence[R]]], *, most: int = 500
    ) -> None:
        self._write, self._most = write, most
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Write `item` (with whichever arrive with it); its result."""
        written: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, written))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        return await written

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._most], self._pending[self._most :]
                await self._write_batch(batch)
        finally:
            self._writer = None

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._write([item for item, _ in batch])
        except Exception as error:
            if len(batch) > 1 and not is_transient(error):
                for one in batch:
                    await self._write_batch([one])
                return
            for _, written in batch:
                if not written.done():
                    written.set_exception(error)
            return
        for (_, written), result in zip(batch, results, strict=True):
            if not written.done():
                written.set_result(result)
