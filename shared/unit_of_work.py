"""A service's unit of work: one transaction, committed on a clean exit and rolled back on an
exception. `Transaction` is what a port (`router.ports`, `intake.ports`) extends;
`PostgresTransaction` is its PostgreSQL side (one connection from the pool), which each
service's adapter subclasses with the statements its port names."""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Protocol, Self

import asyncpg

from shared.database import Connection


class Transaction(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class PostgresTransaction:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._stack = AsyncExitStack()
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("use `async with` to begin the transaction")
        return self._conn

    async def __aenter__(self) -> Self:
        conn = await self._stack.enter_async_context(self._pool.acquire())
        await self._stack.enter_async_context(conn.transaction())
        self._conn = conn
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._conn = None
        await self._stack.__aexit__(exc_type, exc, traceback)
