"""The notifier's operator commands (`held`, `reopen`), which `referrals` uses rather than
reading or writing the notifier's tables itself."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from typer.testing import CliRunner

from notifier.__main__ import cli
from notifier.adapters.provider_budget import DAY_SECONDS
from notifier.main import MIGRATIONS
from ops.__main__ import cli as ops_cli
from shared.database import Database
from tests.support.servers import Servers


@pytest.fixture
async def database(servers: Servers, db_schema: str) -> Database:
    database = Database(servers.database_url, db_schema, MIGRATIONS)
    await database.open()
    return database


def _env(servers: Servers, db_schema: str, **more: str) -> dict[str, str]:
    return {"DATABASE_URL": servers.database_url, "NOTIFIER_DB_SCHEMA": db_schema, **more}


@pytest.mark.parametrize("command", [cli, ops_cli], ids=["notifier", "referrals"])
async def test_held_shows_leases_and_a_used_up_day(
    command: object, servers: Servers, db_schema: str, database: Database
) -> None:
    try:
        async with database.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO notifications (notification_id, decision_event_id, referral_id,"
                " recipient, channel, status, lease_owner, lease_expires_at) VALUES"
                " ($1, $2, $3, 'patient', 'sms', 'sending', $4, now() - interval '1 minute'),"
                " ($5, $2, $3, 'clinic', 'webhook', 'pending', NULL, NULL)",
                uuid.uuid4(),
                uuid.uuid4(),
                uuid.uuid4(),
                uuid.uuid4(),
                uuid.uuid4(),
            )
            await conn.execute(
                "INSERT INTO rate_limits (key, window_start, hits) VALUES ('notify-day:sms',"
                " to_timestamp(floor(extract(epoch FROM now()) / $1::int) * $1::int), 900)",
                DAY_SECONDS,
            )
    finally:
        await database.close()
    per_day = '{"sms": 900, "email": 1000}'  # the configured limits, not the defaults
    result = await asyncio.to_thread(
        CliRunner().invoke,
        command,  # type: ignore[arg-type]
        ["held"],
        env=_env(servers, db_schema, NOTIFIER_NOTIFY_PER_DAY=per_day),
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "lease ended: the next notifier reconciles and sends them" in result.output
    assert "not yet claimed" in result.output
    (sms,) = [line for line in lines if line.startswith("today sms")]
    assert "900 of 900" in sms
    assert "held until" in sms
    (email,) = [line for line in lines if line.startswith("today email")]
    assert "0 of 1000" in email
    assert email.endswith("sending")


async def test_reopen_makes_failed_messages_pending_and_keeps_sent_ones(
    servers: Servers, db_schema: str, database: Database
) -> None:
    decision, referral = uuid.uuid4(), uuid.uuid4()
    try:
        async with database.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO notifications (notification_id, decision_event_id, referral_id,"
                " recipient, channel, status, error) VALUES"
                " ($1, $3, $4, 'patient', 'sms', 'failed', 'number not in service'),"
                " ($2, $3, $4, 'clinic', 'webhook', 'sent', NULL)",
                uuid.uuid4(),
                uuid.uuid4(),
                decision,
                referral,
            )
            await conn.execute(
                "INSERT INTO inbox (event_id, topic) VALUES ($1, 'referrals.routed')", decision
            )
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["reopen", str(decision)], env=_env(servers, db_schema)
        )
        assert result.exit_code == 0, result.output
        assert "1 failed message(s)" in result.output
        async with database.pool.acquire() as conn:
            states = await conn.fetch(
                "SELECT channel, status, error FROM notifications ORDER BY channel"
            )
            in_inbox = await conn.fetchval("SELECT count(*) FROM inbox")
        assert [tuple(r.values()) for r in states] == [
            ("sms", "pending", None),
            ("webhook", "sent", None),
        ]
        assert in_inbox == 0  # the replayed decision will be handled again
    finally:
        await database.close()
