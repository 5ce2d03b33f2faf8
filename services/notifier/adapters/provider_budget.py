"""GOV.UK Notify's limits, shared by every notifier process (counted in PostgreSQL): 3,000
messages per rolling minute per API key, and a daily number per channel.

The minute is paced in windows of 1 s, each allowed a 1/61 share: any rolling minute touches at
most 61 windows, so it never holds more than the limit (at the cost of using ~98% of it). A
message over the daily limit is held back, not failed, until the next day (UTC)."""

from __future__ import annotations

import asyncio

from notifier.metrics import NOTIFICATIONS_HELD
from shared.database import Connection
from shared.logging import get_logger
from shared.poison import Transient
from shared.rate_limits import RateLimits

log = get_logger(__name__)
WINDOW_SECONDS = 1
WINDOWS_PER_MINUTE_AT_MOST = 61
DAY_SECONDS = 86_400


class DailyLimitReached(Transient):
    """The day's messages on this channel are used up: held back until the next day."""


class ProviderBudget:
    def __init__(self, limits: RateLimits, per_minute: int, per_day: dict[str, int]) -> None:
        self._limits = limits
        self._cap = max(1, per_minute // WINDOWS_PER_MINUTE_AT_MOST)
        self._per_day = per_day

    async def wait_turn(self, channel: str) -> None:
        """Return when one more message on `channel` keeps us inside both limits."""
        left = await self._limits.take(f"notify-day:{channel}", self._per_day[channel], DAY_SECONDS)
        if left is not None:
            NOTIFICATIONS_HELD.labels(channel, "daily-limit").inc()
            log.warning("daily limit reached, held until tomorrow", channel=channel, wait=left)
            raise DailyLimitReached(f"the day's {channel} messages are used up")
        while (
            wait := await self._limits.take("notify-minute", self._cap, WINDOW_SECONDS)
        ) is not None:
            NOTIFICATIONS_HELD.labels(channel, "per-minute-limit").inc()
            await asyncio.sleep(wait)


async def used_now(conn: Connection) -> dict[str, int]:
    """Notify messages counted in the current window and day: {"notify-minute": n,
    "notify-day:<channel>": n, ...}."""
    rows = await conn.fetch(
        "SELECT key, hits FROM rate_limits WHERE key LIKE 'notify-%'"
        " AND window_start = to_timestamp(floor(extract(epoch FROM now())"
        " / CASE WHEN key = 'notify-minute' THEN $1::int ELSE $2::int END)"
        " * CASE WHEN key = 'notify-minute' THEN $1::int ELSE $2::int END)",
        WINDOW_SECONDS,
        DAY_SECONDS,
    )
    return {r["key"]: r["hits"] for r in rows}
