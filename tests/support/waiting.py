"""Waiting on conditions, never on the clock: `eventually` polls a check (tenacity);
`joined` waits for a consumer group to be stable; `settled` is a positive barrier for
"nothing more will arrive": a set of services has settled when each
one's consumer group has committed every record on its topics, each outbox is published and
nothing is left to send. Only then is a count of what arrived final; a fixed wait before
counting proves nothing on a slow machine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from tenacity import retry, retry_if_result, stop_after_delay, wait_fixed

from ops.kafka_views import topic_views

SERVICES = ("intake", "router", "notifier")
Found = TypeVar("Found")


def eventually(check: Callable[[], Found], within: float = 40) -> Found:
    """`check()` once it is truthy; tenacity's RetryError after `within` seconds."""
    polled = retry(
        retry=retry_if_result(lambda found: not found),
        wait=wait_fixed(0.3),
        stop=stop_after_delay(within),
    )
    return polled(check)()


async def arrives(check: Callable[[], Awaitable[Found]], within: float = 40) -> Found:
    """`await check()` once it is truthy (the async `eventually`)."""
    polled = retry(
        retry=retry_if_result(lambda found: not found),
        wait=wait_fixed(0.1),
        stop=stop_after_delay(within),
    )
    return await polled(check)()


# What each kind of table still holds to do; a schema is asked of the tables it has.
_UNFINISHED = {
    "outbox": "published_at IS NULL AND parked_at IS NULL",
    "notifications": "status IN ('pending', 'sending')",
}


async def unfinished(database_url: str, schemas: Iterable[str]) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count = 0
        for schema in schemas:
            for table, condition in _UNFINISHED.items():
                if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.{table}"):
                    count += await conn.fetchval(
                        f"SELECT count(*) FROM {schema}.{table} WHERE {condition}"
                    )
        return int(count)
    finally:
        await conn.close()


async def outstanding(
    bootstrap: str, database_url: str, prefix: str, groups: set[str], schemas: Iterable[str]
) -> int:
    """Unfinished rows, and records the groups have not committed (as the operators'
    `referrals topics` counts lag: on the partitions a group has committed on)."""
    views = await topic_views(bootstrap, prefix)
    lag = sum(n for view in views for group, n in view.lag_by_group.items() if group in groups)
    return lag + await unfinished(database_url, schemas)


async def settled(
    bootstrap: str,
    database_url: str,
    *,
    prefix: str,
    groups: Iterable[str],
    schemas: Iterable[str],
    within: float = 60,
) -> None:
    """Until nothing is outstanding twice in a row (a send may publish one more event, which
    a consumer then takes); tenacity's RetryError if that does not happen `within` seconds."""
    wanted, schemas = set(groups), list(schemas)
    quiet = 0

    @retry(
        retry=retry_if_result(lambda done: not done),
        wait=wait_fixed(0.3),
        stop=stop_after_delay(within),
    )
    async def twice_quiet() -> bool:
        nonlocal quiet
        work = await outstanding(bootstrap, database_url, prefix, wanted, schemas)
        quiet = quiet + 1 if work == 0 else 0
        return quiet >= 2

    await twice_quiet()


async def system_settled(bootstrap: str, database_url: str, env: Mapping[str, str]) -> None:
    """The three services started by `devstack.system.running_system` with `env`."""
    await settled(
        bootstrap,
        database_url,
        prefix=env["KAFKA_TOPIC_PREFIX"],
        groups=[env[f"{s.upper()}_CONSUMER_GROUP"] for s in SERVICES],
        schemas=[env[f"{s.upper()}_DB_SCHEMA"] for s in SERVICES],
    )


async def group_members(bootstrap: str, group: str) -> int:
    """How many consumers the group has once it is stable (0 while it rebalances)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    _error, _group, state, _type, _protocol, members, *_ = response.groups[0]
    return len(members) if state == "Stable" else 0


async def joined(bootstrap: str, group: str, members: int, within: float = 60) -> None:
    """Until the group is stable with `members` consumers (each then has its partitions)."""
    polled = retry(
        retry=retry_if_result(lambda found: found != members),
        wait=wait_fixed(0.3),
        stop=stop_after_delay(within),
    )
    await polled(group_members)(bootstrap, group)
