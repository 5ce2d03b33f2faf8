"""The date, as the NHS in England counts it: validation and age use the London date."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def today() -> date:
    return datetime.now(LONDON).date()
