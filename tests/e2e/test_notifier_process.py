"""The notifier as its own process: killed after claiming a message (the provider already has
it), restarted, it reconciles by reference and the patient is told exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg

from devstack.services import service_process
from devstack.topics import ensure_topics
from shared.contracts import ReferralNeedsTriage
from shared.kafka import publish_events
from standins.client import Standins
from tests.support.intake_process import Intake
from tests.support.kafka_reader import wait_for
from tests.support.servers import Servers


async def statuses(dsn: str, schema: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.notifications")
        if exists is None:
            return []
        return [r["status"] for r in await conn.fetch(f"SELECT status FROM {schema}.notifications")]
    finally:
        await conn.close()


def test_a_notifier_killed_mid_send_sends_exactly_once_after_restart(
    servers: Servers, standins: Standins, intake_process: Intake, topic_prefix: str, db_schema: str
) -> None:
    asyncio.run(ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix))
    env = {
        "KAFKA_TOPIC_PREFIX": topic_prefix,
        "NOTIFIER_DB_SCHEMA": db_schema,
        "NOTIFIER_CONSUMER_GROUP": f"notifier-{uuid.uuid4().hex[:8]}",
        "NOTIFIER_INTAKE_URL": intake_process.process.url,
        "NOTIFIER_INTAKE_API_KEY": intake_process.notifier_key,
        "NOTIFIER_LEASE_SECONDS": "16",  # the dead process's lease must end first
        **standins.notifier_env(),
    }
    standins.reset()
    # Notify takes the message, then the notifier dies before hearing back.
    standins.fault("notify", times=1, record_first=True, delay=20)
    referral = intake_process.gp_referral()
    triage = ReferralNeedsTriage(
        correlation_id=str(uuid.uuid4()),
        referral_id=referral["referral_id"],
        tracking_reference=referral["tracking_reference"],
        received_event_id=uuid.uuid4(),
        service="pelvic-health",
        destination=None,
        reasons=[{"rule": "pelvic-health.area-known", "message": "Unknown area."}],
        rules_version="sha256:test",
    )

    def at_provider() -> list[object]:
        return [
            r
            for r in standins.records("notify")
            if r.get("reference") and referral["tracking_reference"] in str(r)
        ]

    with service_process("notifier", env) as first:
        asyncio.run(publish_events(servers.kafka_bootstrap, [triage], topic_prefix=topic_prefix))
        deadline = time.monotonic() + 30
        while not at_provider():
            assert time.monotonic() < deadline, first.output()
            time.sleep(0.2)
        assert asyncio.run(statuses(servers.database_url, db_schema)) == ["sending"]
        first.kill()

    with service_process("notifier", env) as second:
        deadline = time.monotonic() + 60
        while asyncio.run(statuses(servers.database_url, db_schema)) != ["sent"]:
            assert time.monotonic() < deadline, second.output()
            time.sleep(0.3)
        assert "notification found at the provider after a restart" in second.output()
    assert len(at_provider()) == 1
    sent = asyncio.run(
        wait_for(servers.kafka_bootstrap, topic_prefix + "notifications.sent", lambda _r: True)
    )
    assert len(sent) == 1
