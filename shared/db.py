"""asyncpg pool factory and a small migration runner: plain SQL files applied in order.

Hand-written because no well-kept migration tool runs on asyncpg; it is 60 lines:
files `NNN_name.sql` are applied once each, all in one transaction, recorded with a
checksum, under an advisory lock so that two processes starting together do not race.
Every service's schema starts with `COMMON_MIGRATIONS` (version 000: the outbox and the inbox,
defined once), then its own files from 001.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.logging import get_logger

log = get_logger(__name__)

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
COMMON_MIGRATIONS = Path(__file__).parent / "migrations"


def _checked_schema(schema: str) -> str:
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
        server_settings={"search_path": _checked_schema(schema), "application_name": schema},
        init=_json_codecs,
    )
    assert pool is not None
    return pool


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


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def load_migrations(*directories: Path) -> list[Migration]:
    """The files of all `directories`, in version order; a version may appear only once."""
    migrations = []
    for directory in directories:
        for path in directory.glob("*.sql"):
            match = _MIGRATION_FILE.match(path.name)
            if match is None:
                raise MigrationError(f"{path}: migration files are named NNN_lower_snake.sql")
            migrations.append(Migration(match.group(1), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        named = ", ".join(str(d) for d in directories)
        raise MigrationError(f"{named}: two migrations share a version number")
    return sorted(migrations, key=lambda m: m.version)


async def apply_migrations(conn: Connection, schema: str, *directories: Path) -> list[str]:
    """Bring `schema` up to date; return the names of the files applied by this call."""
    schema = _checked_schema(schema)
    migrations = load_migrations(*directories)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrations:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version text PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch(f"SELECT version, name, checksum FROM {schema}.schema_migrations")
        applied = {r["version"]: r for r in rows}
        done: list[str] = []
        await conn.execute(f"SET LOCAL search_path TO {schema}")
        for migration in migrations:
            previous = applied.get(migration.version)
            if previous is not None:
                if previous["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{schema}: {migration.name} changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {schema}.schema_migrations (version, name, checksum) "
                "VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            done.append(migration.name)
    if done:
        log.info("migrations applied", schema=schema, applied=done)
    return done
