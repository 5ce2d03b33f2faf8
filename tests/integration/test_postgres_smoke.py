"""Migrations against the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncpg
import pytest

from shared.database import create_pool
from shared.schema_migrations import COMMON_MIGRATIONS, MigrationError, apply_migrations
from tests.support.servers import Servers

SERVICES = Path(__file__).resolve().parents[2] / "services"


@pytest.mark.parametrize("service", ["intake", "router", "notifier"])
async def test_service_migrations_apply_once_and_are_recorded(
    service: str, db_schema: str, pg: asyncpg.Connection
) -> None:
    directory = SERVICES / service / "migrations"
    files = sorted(p.name for d in (COMMON_MIGRATIONS, directory) for p in d.glob("*.sql"))

    assert await apply_migrations(pg, db_schema, COMMON_MIGRATIONS, directory) == files
    assert await apply_migrations(pg, db_schema, COMMON_MIGRATIONS, directory) == []

    recorded = await pg.fetch(f"SELECT name FROM {db_schema}.schema_migrations ORDER BY version")
    assert [r["name"] for r in recorded] == files
    tables = await pg.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", db_schema
    )
    names = {t["table_name"] for t in tables}
    assert {"outbox", "inbox", "schema_migrations"} < names  # and the service's own tables


# The outbox and inbox as each service made them before they were shared (three copies).
_BEFORE_SHARED = {
    "001_outbox.sql": """CREATE TABLE outbox (event_id uuid PRIMARY KEY, topic text NOT NULL,
        key text NOT NULL, payload jsonb NOT NULL, headers jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz);
        CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;""",
    "002_inbox.sql": """CREATE TABLE inbox (event_id uuid PRIMARY KEY, topic text NOT NULL,
        handled_at timestamptz NOT NULL DEFAULT now());""",
    "003_outbox_parked.sql": """ALTER TABLE outbox ADD COLUMN parked_at timestamptz,
        ADD COLUMN parked_reason text; DROP INDEX outbox_unpublished;
        CREATE INDEX outbox_unpublished ON outbox (created_at)
        WHERE published_at IS NULL AND parked_at IS NULL;""",
}


async def _columns_and_indexes(pg: asyncpg.Connection, schema: str) -> list[tuple[str, ...]]:
    columns = await pg.fetch(
        "SELECT table_name, column_name, data_type, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_schema = $1"
        " AND table_name IN ('outbox', 'inbox') ORDER BY table_name, column_name",
        schema,
    )
    indexes = await pg.fetch(
        "SELECT indexname, replace(indexdef, $1, '') FROM pg_indexes WHERE schemaname = $2"
        " AND tablename IN ('outbox', 'inbox') ORDER BY indexname",
        schema + ".",
        schema,
    )
    return [tuple(str(v) for v in r.values()) for r in [*columns, *indexes]]


async def test_shared_outbox_and_inbox_match_what_existing_schemas_have(
    tmp_path: Path, db_schema: str, pg: asyncpg.Connection
) -> None:
    """A schema made before the tables were shared takes the shared migrations, and ends with
    exactly the tables a new schema gets (the outbox's written order, `seq`, included)."""
    for name, sql in _BEFORE_SHARED.items():
        (tmp_path / name).write_text(sql)
    await apply_migrations(pg, db_schema, tmp_path)
    assert await apply_migrations(pg, db_schema, COMMON_MIGRATIONS, tmp_path) == [
        "000_outbox_and_inbox.sql",
        "018_outbox_wakes_relay.sql",
        "019_outbox_in_written_order.sql",
    ]
    old = await _columns_and_indexes(pg, db_schema)
    assert ("outbox", "seq", "bigint", "NO", "None") in old

    fresh = db_schema + "_fresh"
    try:
        await apply_migrations(pg, fresh, COMMON_MIGRATIONS)
        assert await _columns_and_indexes(pg, fresh) == old
    finally:
        await pg.execute(f"DROP SCHEMA IF EXISTS {fresh} CASCADE")


async def test_two_migrations_with_one_version_are_refused(
    tmp_path: Path, db_schema: str, pg: asyncpg.Connection
) -> None:
    (tmp_path / "000_mine.sql").write_text("CREATE TABLE mine (id int);")
    with pytest.raises(MigrationError, match="share a version"):
        await apply_migrations(pg, db_schema, COMMON_MIGRATIONS, tmp_path)


async def test_edited_migration_is_refused(
    tmp_path: Path, db_schema: str, pg: asyncpg.Connection
) -> None:
    (tmp_path / "001_things.sql").write_text("CREATE TABLE things (id int);")
    await apply_migrations(pg, db_schema, tmp_path)
    (tmp_path / "001_things.sql").write_text("CREATE TABLE things (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(pg, db_schema, tmp_path)


async def test_a_moved_migration_that_names_what_it_replaces_is_taken_as_applied(
    tmp_path: Path, db_schema: str, pg: asyncpg.Connection
) -> None:
    """Two services' copies of one table became one shared file: a schema that applied
    either copy goes on, and nothing runs twice."""
    old = tmp_path / "old"
    old.mkdir()
    (old / "001_things.sql").write_text("-- a copy\nCREATE TABLE things (id int);")
    await apply_migrations(pg, db_schema, old)
    checksum = hashlib.sha256((old / "001_things.sql").read_bytes()).hexdigest()
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "001_things.sql").write_text(
        f"-- the shared one\n-- replaces: {checksum}\nCREATE TABLE things (id int);"
    )
    assert await apply_migrations(pg, db_schema, moved) == []  # taken as applied, not rerun
    (moved / "001_things.sql").write_text("-- replaces: " + "0" * 64 + "\nCREATE TABLE t (i int);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(pg, db_schema, moved)


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
