"""A shared budget in PostgreSQL, taken many units at a time by many takers at once: never
more than the cap in a window, and the cap used whole."""

from __future__ import annotations

import asyncio

from shared.database import Database
from shared.rate_limits import MIGRATIONS, RateLimits
from tests.support.servers import Servers

CAP = 50
WINDOW = 3600  # one window for the whole test: the hour cannot turn between two takers
TAKERS = 8  # each on its own connection, all at once


async def test_takers_at_once_share_the_cap_exactly(servers: Servers, db_schema: str) -> None:
    database = Database(servers.database_url, db_schema, (MIGRATIONS,))
    await database.open()
    try:
        limits = RateLimits(database, b"test")
        first = await asyncio.gather(
            *(limits.take("budget", CAP, WINDOW, wanted=9) for _ in range(TAKERS))
        )
        granted = sorted(t.granted for t in first)
        assert sum(granted) == CAP  # 72 wanted: the cap and not one more
        assert granted[-1] == 9  # whole grants first, then what was left
        assert granted[0] < 9
        again = await limits.take("budget", CAP, WINDOW, wanted=1)
        assert again.granted == 0
        assert 0 < again.seconds_left <= WINDOW
        assert (await limits.take("other", CAP, WINDOW, wanted=3)).granted == 3
        # A cap lowered below what was taken gives nothing back, and takes nothing away.
        assert (await limits.take("budget", CAP - 10, WINDOW, wanted=5)).granted == 0
        assert (await limits.take("budget", CAP + 2, WINDOW, wanted=5)).granted == 2
    finally:
        await database.close()
