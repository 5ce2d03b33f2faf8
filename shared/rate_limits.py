"""Rate limits counted in PostgreSQL, so that N processes of a service allow the limit once,
not N times: intake's form and failed keys, the notifier's provider budgets. Written here
because `limits` has no PostgreSQL storage and we run no Redis; fixed windows, one upsert per
hit, and a shared budget taken many units at a time. Each service keeps the table in its own
schema (`rate_limits`)."""

from __future__ import annotations

import hashlib
import hmac
import math
import random
from dataclasses import dataclass
from pathlib import Path

from limits import RateLimitItem, parse

from shared.database import Database

# The table's migration, for each service that counts (its schema's `rate_limits`).
MIGRATIONS = Path(__file__).parent / "migrations" / "rate_limits"

_HIT = """
INSERT INTO rate_limits AS r (key, window_start, hits)
VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), $3)
ON CONFLICT (key, window_start) DO UPDATE SET hits = r.hits + $3
RETURNING r.hits, extract(epoch FROM r.window_start + make_interval(secs => $2) - now()) AS left
"""
# As many of `wanted` ($4) units as the window's cap ($3) still allows: the row is locked by
# the sub-select (a concurrent taker waits, then reads what this one left), so no two takers
# are granted the same unit. No row: the window has not been opened yet (see `_OPEN`).
_TAKE = """
UPDATE rate_limits AS r SET hits = GREATEST(r.hits, LEAST(r.hits + $4, $3))
FROM (SELECT key, window_start, hits FROM rate_limits
      WHERE key = $1
        AND window_start = to_timestamp(floor(extract(epoch FROM now()) / $2) * $2)
      FOR UPDATE) AS was
WHERE r.key = was.key AND r.window_start = was.window_start
RETURNING GREATEST(0, r.hits - was.hits) AS granted,
    extract(epoch FROM r.window_start + make_interval(secs => $2) - now()) AS left
"""
_OPEN = """
INSERT INTO rate_limits (key, window_start, hits)
VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 0)
ON CONFLICT (key, window_start) DO NOTHING
"""
_COUNTED = """
SELECT hits, extract(epoch FROM window_start + make_interval(secs => $2) - now()) AS left
FROM rate_limits
WHERE key = $1 AND window_start = to_timestamp(floor(extract(epoch FROM now()) / $2) * $2)
"""
_FORGET_OLD = "DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'"


@dataclass(frozen=True)
class Taken:
    granted: int  # units taken in the current window, at most those wanted
    seconds_left: float  # until the next window opens


class RateLimits:
    def __init__(self, database: Database, secret: bytes) -> None:
        self._database, self._secret = database, secret

    async def hit(self, scope: str, client: str, limit: RateLimitItem) -> int | None:
        """Count one hit; None if within the limit, else seconds until it may try again."""
        window = limit.get_expiry()
        async with self._database.pool.acquire() as conn:
            row = await conn.fetchrow(_HIT, self._key(scope, client), window, 1)
            if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
                await conn.execute(_FORGET_OLD)
        assert row is not None
        return max(1, math.ceil(row["left"])) if row["hits"] > limit.amount else None

    async def exceeded(self, scope: str, client: str, limit: RateLimitItem) -> int | None:
        """Seconds until it may try again if the limit is already used up, else None. Only
        reads: asked before every request, it writes nothing."""
        row = await self._database.pool.fetchrow(
            _COUNTED, self._key(scope, client), limit.get_expiry()
        )
        if row is None or row["hits"] < limit.amount:
            return None
        return max(1, math.ceil(float(row["left"])))

    async def take(self, scope: str, cap: int, window_seconds: int, wanted: int) -> Taken:
        """Up to `wanted` units of a shared budget of `cap` per fixed window, in one
        statement (two when the window is new): how many were granted, and the seconds
        until the next window."""
        async with self._database.pool.acquire() as conn:
            if random.random() < 0.001:  # noqa: S311 - housekeeping, not security
                await conn.execute(_FORGET_OLD)
            while (row := await conn.fetchrow(_TAKE, scope, window_seconds, cap, wanted)) is None:
                await conn.execute(_OPEN, scope, window_seconds)
        return Taken(int(row["granted"]), max(0.05, float(row["left"])))

    def _key(self, scope: str, client: str) -> str:
        digest = hmac.new(self._secret, client.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{scope}:{digest}"


def parse_limit(text: str) -> RateLimitItem:
    """'10/minute' and the like (`limits` notation)."""
    return parse(text)
