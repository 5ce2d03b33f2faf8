"""Working days as the NHS in England counts them: not weekends, not England's bank holidays
(from the `holidays` package, which follows the published dates)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from shared.clock import LONDON


@lru_cache(maxsize=32)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def load_calendar(year: int) -> None:
    """Load a year's bank holidays now. The `holidays` package imports every country's module
    on first use (half a second): a service calls this at start-up, so that the first
    referral's clock does not pay it inside its transaction."""
    _bank_holidays(year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """The same London time `days` working days after `start` (a start on a weekend or a
    holiday counts from the next working day)."""
    local = start.astimezone(LONDON)
    day = _working_days_after(local.date(), days)
    return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=LONDON)


@lru_cache(maxsize=4096)
def _working_days_after(day: date, days: int) -> date:
    """Remembered: a batch's referrals mostly start their clocks on the same few days."""
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day
