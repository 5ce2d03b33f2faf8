"""A service's schema opened for a test, its migrations applied, closed afterwards: what a
port's contract suite runs its PostgreSQL adapter over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.database import Database, Migrations
from tests.support.servers import Servers


@asynccontextmanager
async def opened(servers: Servers, schema: str, migrations: Migrations) -> AsyncIterator[Database]:
    database = Database(servers.database_url, schema, migrations, max_size=2)
    await database.open()
    try:
        yield database
    finally:
        await database.close()
