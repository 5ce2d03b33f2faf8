"""`python -m <service> migrate`: a deployment's migration job applies each service's
migrations with no secret but the database's, and a second run changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from intake.__main__ import cli as intake_cli
from intake.main import MIGRATIONS as INTAKE
from notifier.__main__ import cli as notifier_cli
from notifier.main import MIGRATIONS as NOTIFIER
from router.__main__ import cli as router_cli
from router.main import MIGRATIONS as ROUTER
from shared.schema_migrations import COMMON_MIGRATIONS, load_migrations
from tests.support.servers import Servers

SERVICES = {"intake": (intake_cli, INTAKE), "router": (router_cli, ROUTER),
            "notifier": (notifier_cli, NOTIFIER)}  # fmt: skip


def versions(migrations: Path | tuple[Path, ...]) -> list[str]:
    """Every migration a process applies: the common ones (outbox, inbox), then its own."""
    own = migrations if isinstance(migrations, tuple) else (migrations,)
    return sorted(m.version for m in load_migrations(COMMON_MIGRATIONS, *own))


@pytest.mark.parametrize("name", SERVICES)
async def test_migrate_applies_every_migration_once_and_needs_no_secret(
    name: str, servers: Servers, db_schema: str
) -> None:
    cli, migrations = SERVICES[name]
    env = {"DATABASE_URL": servers.database_url, f"{name.upper()}_DB_SCHEMA": db_schema}
    for _ in range(2):  # the second run finds nothing to do
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["migrate"], env=env)
        assert result.exit_code == 0, result.output
        assert f"schema {db_schema} is up to date" in result.output
    conn = await asyncpg.connect(servers.database_url)
    try:
        applied = await conn.fetch(f"SELECT version FROM {db_schema}.schema_migrations")
    finally:
        await conn.close()
    assert sorted(str(r["version"]) for r in applied) == versions(migrations)
