"""Rate limits counted in PostgreSQL, so that N processes of a service allow the limit once,
not N times: intake's form and failed keys, the notifier's provider budgets. Written here
because `limits` has no PostgreSQL storage and we run no Redis; fixed windows, one upsert per
hit. Each service keeps the table in its own schema (`rate_limits`)."""

from __future__ import annotations

import hashlib
import hmac
import math
import random
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
# Taken only while under the cap; at the cap nothing changes, and the time left is returned.
_TAKE = """
WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $2) * $2) AS start),
taken AS (
    INSERT INTO rate_limits AS r (key, window_start, hits) SELECT $1, start, 1 FROM w
    ON CONFLICT (key, window_start) DO UPDATE SET hits = r.hits + 1 WHERE r.hits < $3
    RETURNING 1
)
SELECT extract(epoch FROM start + make_interval(secs => $2) - now()) AS left
FROM w WHERE NOT EXISTS (SELECT FROM taken)
"""
_FORGET_OLD = "DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'"


class RateLimits:
    def __init__(self, database: Database, secret: bytes) -> None:
        self._database, self._secret = database, secret

    async def hit(self, scope: str, client: str, limit: RateLimitItem) -> int | None:
        """Count one hit; None if within the limit, else seconds until it may try again."""
        return await self._count(scope, client, limit, 1)

    async def exceeded(self, scope: str, client: str, limit: RateLimitItem) -> int | None:
        """Seconds until it may try again if the limit is already used up, else None."""
        return await self._count(scope, client, limit, 0, allowed_at_limit=False)

    async def _count(
        self,
        scope: str,
        client: str,
        limit: RateLimitItem,
        add: int,
        *,
        allowed_at_limit: bool = True,
    ) -> int | None:
        window = limit.get_expiry()
        async with self._database.pool.acquire() as conn:
            row = await conn.fetchrow(_HIT, self._key(scope, client), window, add)
            if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
                await conn.execute(_FORGET_OLD)
        assert row is not None
        over = row["hits"] > limit.amount if allowed_at_limit else row["hits"] >= limit.amount
        return max(1, math.ceil(row["left"])) if over else None

    async def take(self, scope: str, cap: int, window_seconds: int) -> float | None:
        """One unit of a shared budget of `cap` per fixed window: None if taken, else the
        seconds until the next window (nothing is counted then)."""
        async with self._database.pool.acquire() as conn:
            row = await conn.fetchrow(_TAKE, scope, window_seconds, cap)
            if random.random() < 0.001:  # noqa: S311 - housekeeping, not security
                await conn.execute(_FORGET_OLD)
        if row is None:
            return None
        return max(0.05, float(row["left"]))

    def _key(self, scope: str, client: str) -> str:
        digest = hmac.new(self._secret, client.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{scope}:{digest}"


def parse_limit(text: str) -> RateLimitItem:
    """'10/minute' and the like (`limits` notation)."""
    return parse(text)
