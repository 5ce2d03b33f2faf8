"""A positive barrier for "nothing more will arrive": the pipeline has settled when every
service's consumer group has committed every record on its topics, every outbox is published
and the notifier has nothing left to send. Only then is a count of what the stand-ins received
final; a fixed wait before counting proves nothing on a slow machine."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg
from tenacity import retry, retry_if_result, stop_after_delay, wait_fixed

from ops.kafka_views import topic_views

SERVICES = ("intake", "router", "notifier")


async def unfinished(database_url: str, env: Mapping[str, str]) -> int:
    """Unpublished outbox rows in every service's schema, and notifications not yet ended."""
    conn = await asyncpg.connect(database_url)
    try:
        count = 0
        for service in SERVICES:
            schema = env[f"{service.upper()}_DB_SCHEMA"]
            if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.outbox"):
                count += await conn.fetchval(
                    f"SELECT count(*) FROM {schema}.outbox"
                    " WHERE published_at IS NULL AND parked_at IS NULL"
                )
        schema = env["NOTIFIER_DB_SCHEMA"]
        count += await conn.fetchval(
            f"SELECT count(*) FROM {schema}.notifications WHERE status IN ('pending', 'sending')"
        )
        return int(count)
    finally:
        await conn.close()


async def outstanding(bootstrap: str, database_url: str, env: Mapping[str, str]) -> int:
    """Unfinished rows, and records the services' groups have not committed (as the
    operators' `referrals topics` counts lag)."""
    groups = {env[f"{service.upper()}_CONSUMER_GROUP"] for service in SERVICES}
    views = await topic_views(bootstrap, env["KAFKA_TOPIC_PREFIX"])
    lag = sum(n for view in views for group, n in view.lag_by_group.items() if group in groups)
    return lag + await unfinished(database_url, env)


async def settled(
    bootstrap: str, database_url: str, env: Mapping[str, str], within: float = 60
) -> None:
    """Until nothing is outstanding twice in a row (a send may publish one more event, which
    a consumer then takes); tenacity's RetryError if that does not happen `within` seconds."""
    quiet = 0

    @retry(
        retry=retry_if_result(lambda done: not done),
        wait=wait_fixed(0.3),
        stop=stop_after_delay(within),
    )
    async def twice_quiet() -> bool:
        nonlocal quiet
        quiet = quiet + 1 if await outstanding(bootstrap, database_url, env) == 0 else 0
        return quiet >= 2

    await twice_quiet()
