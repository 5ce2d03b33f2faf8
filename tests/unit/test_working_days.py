"""Working days as the NHS in England counts them: weekends and England's bank holidays
(the `holidays` package) do not count; dates are computed from today's year, never fixed."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import holidays
import pytest

from shared.clock import LONDON, today
from shared.working_days import add_working_days, is_working_day

YEAR = today().year + 1  # a whole year ahead: its bank holidays are published


def at_ten(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON)


def test_a_friday_plus_one_working_day_is_the_monday_after_unless_it_is_a_holiday() -> None:
    friday = next(
        d for d in (date(YEAR, 6, 1) + timedelta(days=n) for n in range(14)) if d.weekday() == 4
    )
    monday = friday + timedelta(days=3)
    expected = monday if is_working_day(monday) else monday + timedelta(days=1)
    assert add_working_days(at_ten(friday), 1) == at_ten(expected)


def test_christmas_and_boxing_day_do_not_count() -> None:
    christmas_eve = date(YEAR, 12, 24)
    due = add_working_days(at_ten(christmas_eve), 1).date()
    bank = holidays.country_holidays("GB", subdiv="ENG", years=YEAR)
    assert date(YEAR, 12, 25) in bank
    assert due > date(YEAR, 12, 26)
    assert is_working_day(due)
    skipped = [christmas_eve + timedelta(days=n) for n in range(1, (due - christmas_eve).days)]
    assert all(not is_working_day(d) for d in skipped)


@pytest.mark.parametrize("days", [1, 2, 5, 10, 20])
def test_n_working_days_later_is_n_working_days_later_at_the_same_time(days: int) -> None:
    start = at_ten(date(YEAR, 3, 2))
    due = add_working_days(start, days)
    between = [
        start.date() + timedelta(days=n) for n in range(1, (due.date() - start.date()).days + 1)
    ]
    assert sum(is_working_day(d) for d in between) == days
    assert is_working_day(due.date())
    assert due.astimezone(LONDON).time() == start.time()
