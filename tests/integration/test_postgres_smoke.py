"""Migrations against the real PostgreSQL server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from shared.db import MigrationError, apply_migrations, create_pool
from tests.support.servers import Servers

SERVICES = Path(__file__).resolve().parents[2] / "services"


@pytest.mark.parametrize("service", ["intake", "router", "notifier"])
async def test_service_migrations_apply_once_and_are_recorded(
    service: str, db_schema: str, pg: asyncpg.Connection
) -> None:
    directory = SERVICES / service / "migrations"
    files = sorted(p.name for p in directory.glob("*.sql"))

    assert await apply_migrations(pg, db_schema, directory) == files
    assert await apply_migrations(pg, db_schema, directory) == []

    recorded = await pg.fetch(f"SELECT name FROM {db_schema}.schema_migrations ORDER BY version")
    assert [r["name"] for r in recorded] == files
    tables = await pg.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", db_schema
    )
    assert len(tables) > 1  # the service's own tables, beside schema_migrations


async def test_edited_migration_is_refused(
    tmp_path: Path, db_schema: str, pg: asyncpg.Connection
) -> None:
    (tmp_path / "001_things.sql").write_text("CREATE TABLE things (id int);")
    await apply_migrations(pg, db_schema, tmp_path)
    (tmp_path / "001_things.sql").write_text("CREATE TABLE things (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(pg, db_schema, tmp_path)


async def test_failed_migration_leaves_nothing_half_applied(
    tmp_path: Path, db_schema: str, pg: asyncpg.Connection
) -> None:
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "002_broken.sql").write_text("CREATE TABLE broken (id nonsense_type);")
    with pytest.raises(asyncpg.PostgresError):
        await apply_migrations(pg, db_schema, tmp_path)
    exists = await pg.fetchval("SELECT to_regclass($1)", f"{db_schema}.ok")
    assert exists is None


async def test_processes_starting_together_apply_each_migration_once(
    servers: Servers, tmp_path: Path, db_schema: str
) -> None:
    (tmp_path / "001_counter.sql").write_text(
        "CREATE TABLE counter (n int); INSERT INTO counter VALUES (1);"
    )
    pool = await create_pool(servers.database_url, db_schema, max_size=4)
    try:

        async def migrate() -> list[str]:
            async with pool.acquire() as conn:
                return await apply_migrations(conn, db_schema, tmp_path)

        results = await asyncio.gather(*(migrate() for _ in range(4)))
        assert sorted(map(len, results)) == [0, 0, 0, 1]
        assert await pool.fetchval("SELECT count(*) FROM counter") == 1  # search_path is the schema
    finally:
        await pool.close()
