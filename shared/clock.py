"""The date, as the NHS in England counts it: validation and age use the London date."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def today() -> date:
    return datetime.now(LONDON).date()


def days_from_today(days: int) -> str:
    """The ISO date `days` away from today: sample dates that never expire."""
    return (today() + timedelta(days=days)).isoformat()
