"""`referrals held`: what the notifier holds back and why, read from its own tables."""

from __future__ import annotations

import uuid
from pathlib import Path

from notifier.adapters.provider_budget import DAY_SECONDS
from ops.held import held
from ops.settings import OpsSettings
from shared.database import Database
from tests.support.servers import Servers

MIGRATIONS = Path(__file__).parents[2] / "services" / "notifier" / "migrations"


async def test_held_shows_leases_and_a_used_up_day(servers: Servers, db_schema: str) -> None:
    database = Database(servers.database_url, db_schema, MIGRATIONS)
    await database.open()
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
                " to_timestamp(floor(extract(epoch FROM now()) / $1::int) * $1::int), 250000)",
                DAY_SECONDS,
            )
    finally:
        await database.close()
    settings = OpsSettings.model_validate(
        {"database_url": servers.database_url, "notifier_schema": db_schema}
    )
    lines = await held(settings)
    text = "\n".join(lines)
    assert "lease ended: the next notifier reconciles and sends them" in text
    assert "not yet claimed" in text
    (sms,) = [line for line in lines if line.startswith("today sms")]
    assert "250000 of 250000" in sms
    assert "held until" in sms
    (email,) = [line for line in lines if line.startswith("today email")]
    assert email.endswith("sending")
