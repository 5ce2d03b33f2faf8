"""The service's PostgreSQL handle: a pool opened at start-up with migrations applied."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg

from shared.db import COMMON_MIGRATIONS, apply_migrations, create_pool

T = TypeVar("T")


def run_on_database(
    dsn: str, schema: str, migrations: Path, action: Callable[[asyncpg.Pool], Awaitable[T]]
) -> T:
    """For commands: open the schema (migrations applied), run `action` on its pool, close."""
    return asyncio.run(on_database(dsn, schema, migrations, action))


async def on_database(
    dsn: str, schema: str, migrations: Path, action: Callable[[asyncpg.Pool], Awaitable[T]]
) -> T:
    """`run_on_database` for a caller already in an event loop."""
    database = Database(dsn, schema, migrations, max_size=2)
    await database.open()
    try:
        return await action(database.pool)
    finally:
        await database.close()


class Database:
    """Created at bootstrap, opened in the app's lifespan; handlers reach the pool through it."""

    def __init__(self, dsn: str, schema: str, migrations: Path, *, max_size: int = 10) -> None:
        self.dsn = dsn
        self.schema = schema
        self.migrations = migrations
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database not open: the service has not started")
        return self._pool

    async def open(self) -> list[str]:
        """Open the pool and apply pending migrations (the outbox and inbox first, then the
        service's own); return the files applied."""
        self._pool = await create_pool(self.dsn, self.schema, max_size=self.max_size)
        async with self._pool.acquire() as conn:
            return await apply_migrations(conn, self.schema, COMMON_MIGRATIONS, self.migrations)

    async def server_version(self) -> str:
        return str(await self.pool.fetchval("SHOW server_version"))

    async def is_ready(self) -> bool:
        try:
            return bool(await self.pool.fetchval("SELECT 1", timeout=2) == 1)
        except (OSError, asyncpg.PostgresError, RuntimeError, TimeoutError):
            return False

    async def close(self, grace: float = 10.0) -> None:
        """Close gracefully; after `grace` seconds, cut what is still open."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), grace)
            except TimeoutError:
                pool.terminate()
