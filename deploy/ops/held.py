"""What the notifier is holding back, and why: messages waiting on a lease, and how much of
Notify's minute and day is used (the budgets every notifier process shares)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifier.adapters.provider_budget import (
    DAY_SECONDS,
    WINDOW_SECONDS,
    WINDOWS_PER_MINUTE_AT_MOST,
)
from notifier.settings import NotifierSettings
from ops.settings import OpsSettings
from shared.db import connect


async def held(settings: OpsSettings) -> list[str]:
    per_day: dict[str, int] = NotifierSettings.model_fields["notify_per_day"].get_default()
    per_minute: int = NotifierSettings.model_fields["notify_per_minute"].get_default()
    schema = settings.notifier_schema
    conn = await connect(str(settings.database_url))
    try:
        if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.notifications") is None:
            return [f"no notifier tables in schema {schema!r} (has the notifier started?)"]
        waiting = await conn.fetch(
            f"SELECT status, lease_expires_at > now() AS leased, count(*) AS n"
            f" FROM {schema}.notifications WHERE status IN ('pending', 'sending')"
            f" GROUP BY 1, 2 ORDER BY 1, 2"
        )
        used = {
            r["key"]: r["hits"]
            for r in await conn.fetch(
                f"SELECT key, hits FROM {schema}.rate_limits WHERE key LIKE 'notify-%'"
                f" AND window_start = to_timestamp(floor(extract(epoch FROM now())"
                f" / CASE WHEN key = 'notify-minute' THEN $1::int ELSE $2::int END)"
                f" * CASE WHEN key = 'notify-minute' THEN $1::int ELSE $2::int END)",
                WINDOW_SECONDS,
                DAY_SECONDS,
            )
        }
    finally:
        await conn.close()
    lines = []
    for row in waiting:
        why = {
            ("pending", None): "not yet claimed",
            ("sending", True): "being sent, or leased by a process that may have stalled",
            ("sending", False): "lease ended: the next notifier reconciles and sends them",
        }.get((row["status"], row["leased"]), row["status"])
        lines.append(f"{row['n']:>7}  {row['status']:<8} {why}")
    if not lines:
        lines.append("      0  messages waiting")
    window = used.get("notify-minute", 0)
    cap = max(1, per_minute // WINDOWS_PER_MINUTE_AT_MOST)
    lines.append(f"this {WINDOW_SECONDS} s window: {window} of {cap} Notify messages")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d 00:00 UTC")
    for channel, limit in per_day.items():
        today = used.get(f"notify-day:{channel}", 0)
        state = f"held until {tomorrow}" if today >= limit else "sending"
        lines.append(f"today {channel:<6} {today:>7} of {limit:<7} {state}")
    return lines
