"""The migration runner: plain SQL files applied in order, each once per schema.

Hand-written because no well-kept migration tool runs on asyncpg; files `NNN_name.sql` are
applied once each, all in one transaction, recorded in `schema_migrations` with a checksum,
under an advisory lock so that two processes starting together do not race. Every service's
schema starts with `COMMON_MIGRATIONS` (version 000: the outbox and the inbox, defined once),
then the shared folders it uses (`shared.rate_limits.MIGRATIONS`), then its own files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from shared.database import Connection, checked_schema
from shared.logging import get_logger

log = get_logger(__name__)

_MIGRATION_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_REPLACES = re.compile(r"^-- replaces: ([0-9a-f]{64})$", re.MULTILINE)
COMMON_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def accepted_checksums(self) -> set[str]:
        """Its own checksum, and those of the files it replaced (`-- replaces: <sha256>`
        lines), so that moving a migration does not fail schemas that applied the old one."""
        return {self.checksum, *_REPLACES.findall(self.sql)}


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
    schema = checked_schema(schema)
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
                if previous["checksum"] not in migration.accepted_checksums:
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
