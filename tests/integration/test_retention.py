"""What the transport leaves behind is trimmed, against the real servers: published outbox
rows after their keep, handled inbox rows only once no topic can deliver their event again,
parked and unpublished rows never; and every topic's retention is what `shared.topics`
declares, on a new topic and on one that was made before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devstack.topics import ensure_topics, retention_of
from shared import topics
from shared.database import Database
from shared.retention import inbox_keep, purge_transport
from tests.support.servers import Servers
from tests.support.waiting import arrives

ROUTER_MIGRATIONS = Path(__file__).parents[2] / "services" / "router" / "migrations"
HOUR = timedelta(hours=1)


async def test_published_outbox_and_old_inbox_rows_are_trimmed_and_nothing_else(
    servers: Servers, db_schema: str
) -> None:
    database = Database(servers.database_url, db_schema, ROUTER_MIGRATIONS)
    await database.open()
    now = datetime.now(UTC)
    keep = timedelta(hours=24)
    rows = {  # name: (published_at, parked_at), each created long ago
        "published long ago": (now - keep - HOUR, None),
        "published lately": (now - keep + HOUR, None),
        "never published": (None, None),
        "parked": (None, now - keep - HOUR),
    }
    ids = {name: uuid.uuid4() for name in rows}
    handled = {
        "handled before any topic could redeliver it": now - inbox_keep() - HOUR,
        "handled within the longest retention": now - topics.longest_retention() + HOUR,
    }
    inbox_ids = {name: uuid.uuid4() for name in handled}
    try:
        async with database.pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO outbox (event_id, topic, key, payload, created_at, published_at,"
                " parked_at) VALUES ($1, 'referrals.routed', 'k', '{}', $2, $3, $4)",
                [(ids[n], now - 10 * keep, p, parked) for n, (p, parked) in rows.items()],
            )
            await conn.executemany(
                "INSERT INTO inbox (event_id, topic, handled_at)"
                " VALUES ($1, 'referrals.routed', $2)",
                [(inbox_ids[n], at) for n, at in handled.items()],
            )
        purged = await purge_transport(database, now, keep)
        assert (purged.outbox, purged.inbox) == (1, 1)
        async with database.pool.acquire() as conn:
            left = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM outbox")}
            inbox = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox")}
        assert left == {ids[n] for n in rows if n != "published long ago"}
        assert inbox == {inbox_ids["handled within the longest retention"]}
        assert await purge_transport(database, now, keep) == type(purged)(0, 0)
    finally:
        await database.close()


async def test_every_topic_keeps_its_records_as_long_as_declared(
    servers: Servers, topic_prefix: str
) -> None:
    routed = topics.REFERRAL_ROUTED.qualified(topic_prefix)
    await ensure_topics(servers.kafka_bootstrap, (topics.REFERRAL_ROUTED,), prefix=topic_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    await admin.start()
    try:  # as if made before its retention was declared, with the broker's own
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, routed, {"retention.ms": "1000"})]
        )
    finally:
        await admin.close()

    async def retention_is(wanted: dict[str, float]) -> bool:  # a change reaches brokers anon
        async def now() -> bool:
            found = {
                name: await retention_of(servers.kafka_bootstrap, topic_prefix + name) / 1000
                for name in wanted
            }
            return found == wanted

        return await arrives(now)

    assert await retention_is({topics.REFERRAL_ROUTED.name: 1})
    created = await ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix)
    assert routed not in created
    assert await retention_is({t.name: t.retention.total_seconds() for t in topics.ALL_TOPICS})
    dead_letters = [t for t in topics.ALL_TOPICS if t.name.endswith(".dlq")]
    assert dead_letters
    assert all(t.retention == topics.DEAD_LETTERS for t in dead_letters)
