"""The service's PostgreSQL: a handle whose pool is opened at start-up with its migrations
applied (`shared.schema_migrations`), pools that see the service's own schema first, and JSON
columns read and written as Python values."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_schema(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}: lower-case letters, digits, _")
    return schema


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections see the service's own schema first."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": checked_schema(schema), "application_name": schema},
        init=_json_codecs,
        reset=_nothing_to_reset,
    )
    assert pool is not None
    return pool


async def _nothing_to_reset(_conn: Connection) -> None:
    """A connection goes back to the pool as it is: asyncpg has already rolled back any open
    transaction and dropped its listeners' callbacks, and our statements leave no session
    state behind (advisory locks and `SET LOCAL` are per transaction, no cursor outlives
    one, the relay unlistens itself). asyncpg's default sends four statements to the server
    at every release: on the hot path a round trip per transaction, for nothing."""


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection (tools, scripts) that reads and writes JSON like the pools do."""
    conn = await asyncpg.connect(dsn)
    await _json_codecs(conn)
    return conn


async def _json_codecs(conn: Connection) -> None:
    """jsonb and json columns come back as Python values, and go in from them."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


T = TypeVar("T")
# A service's own migrations folder, or the shared folders it uses and then its own.
Migrations: TypeAlias = Path | tuple[Path, ...]


def run_on_database(
    dsn: str, schema: str, migrations: Migrations, action: Callable[[asyncpg.Pool], Awaitable[T]]
) -> T:
    """For commands: open the schema (migrations applied), run `action` on its pool, close."""
    return asyncio.run(on_database(dsn, schema, migrations, action))


async def on_database(
    dsn: str, schema: str, migrations: Migrations, action: Callable[[asyncpg.Pool], Awaitable[T]]
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

    def __init__(
        self, dsn: str, schema: str, migrations: Migrations, *, max_size: int = 10
    ) -> None:
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
        # Imported here: the runner uses this module's connection type and schema check.
        from shared.schema_migrations import COMMON_MIGRATIONS, apply_migrations

        """Open the pool and apply pending migrations (the outbox and inbox first, then the
        service's own); return the files applied."""
        self._pool = await create_pool(self.dsn, self.schema, max_size=self.max_size)
        async with self._pool.acquire() as conn:
            own = self.migrations if isinstance(self.migrations, tuple) else (self.migrations,)
            return await apply_migrations(conn, self.schema, COMMON_MIGRATIONS, *own)

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
