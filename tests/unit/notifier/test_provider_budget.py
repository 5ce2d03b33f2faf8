"""Notify's budget handed out to the messages asking at once: taken from the shared count
together (a statement for all of them, not two for each), never more than it grants, the
day's turns taken ahead and dropped with their day, and what the day has no room for held
back. The clock is injected."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from notifier.adapters.provider_budget import (
    DAY_AHEAD,
    WINDOW_AHEAD,
    WINDOWS_PER_MINUTE_AT_MOST,
    DailyLimitReached,
    ProviderBudget,
)
from shared.rate_limits import Taken


class Windows:
    """A shared count that grants, at each take, up to the next window's allowance (the
    day's scope has one allowance for the whole test)."""

    def __init__(
        self,
        per_window: list[int],
        per_day: int,
        day_left: float = 3600,
        window_left: float = 0.001,
    ) -> None:
        self.per_window, self.per_day, self.day_left = per_window, per_day, day_left
        self.window_left = window_left
        self.takes: list[tuple[str, int]] = []
        self.failure: Exception | None = None

    async def take(self, scope: str, _cap: int, _window: int, wanted: int) -> Taken:
        await asyncio.sleep(0)  # a round trip: others may ask meanwhile
        if self.failure is not None:
            raise self.failure
        self.takes.append((scope, wanted))
        if scope.startswith("notify-day"):
            granted = min(wanted, self.per_day)
            self.per_day -= granted
            return Taken(granted, seconds_left=self.day_left)
        granted = min(wanted, self.per_window.pop(0))
        return Taken(granted, seconds_left=self.window_left)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def budget(windows: Windows, clock: Clock | None = None, per_minute: int = 3000) -> ProviderBudget:
    limits: Any = windows
    return ProviderBudget(
        limits, per_minute=per_minute, per_day={"sms": 250_000}, clock=clock or Clock()
    )


async def test_turns_asked_at_once_are_taken_together_window_by_window() -> None:
    windows = Windows(per_window=[4, 4, 4], per_day=1000)
    turns = budget(windows)
    await asyncio.gather(*(turns.wait_turn("sms") for _ in range(10)))
    assert windows.takes == [
        ("notify-day:sms", DAY_AHEAD),  # the day's turns, some ahead
        ("notify-minute", 10),  # 4 go now,
        ("notify-minute", 6),  # 4 in the next window,
        ("notify-minute", 2),  # the last 2 in the one after
    ]


async def test_later_turns_come_from_those_taken_ahead_until_they_run_out() -> None:
    windows = Windows(per_window=[100] * 4, per_day=1000)
    turns = budget(windows)
    for asking in (10, DAY_AHEAD - 10, 1):
        await asyncio.gather(*(turns.wait_turn("sms") for _ in range(asking)))
    assert [t for t in windows.takes if t[0] == "notify-day:sms"] == [
        ("notify-day:sms", DAY_AHEAD),  # the first ten, and the next forty taken ahead
        ("notify-day:sms", DAY_AHEAD),  # one more: ahead again
    ]
    assert windows.per_day == 1000 - 2 * DAY_AHEAD  # never more than taken


async def test_turns_taken_ahead_end_with_their_day() -> None:
    windows = Windows(per_window=[100] * 2, per_day=1000, day_left=60)
    clock = Clock()
    turns = budget(windows, clock)
    await turns.wait_turn("sms")
    clock.now += 61  # the day they were taken from has ended
    await turns.wait_turn("sms")
    assert [t for t in windows.takes if t[0] == "notify-day:sms"] == [
        ("notify-day:sms", DAY_AHEAD),
        ("notify-day:sms", DAY_AHEAD),
    ]


async def test_what_the_day_has_no_room_for_is_held_back() -> None:
    windows = Windows(per_window=[100], per_day=3)
    turns = budget(windows)
    asked = await asyncio.gather(
        *(turns.wait_turn("sms") for _ in range(5)), return_exceptions=True
    )
    assert asked.count(None) == 3
    assert [type(a) for a in asked if a is not None] == [DailyLimitReached] * 2
    assert windows.takes == [("notify-day:sms", DAY_AHEAD), ("notify-minute", 3)]


async def test_every_asker_hears_when_the_count_cannot_be_reached() -> None:
    windows = Windows(per_window=[100], per_day=100)
    windows.failure = ConnectionError("PostgreSQL away")
    turns = budget(windows)
    asked = await asyncio.gather(
        *(turns.wait_turn("sms") for _ in range(3)), return_exceptions=True
    )
    assert [type(a) for a in asked] == [ConnectionError] * 3
    windows.failure = None  # back: the next asker is served by a new taker
    await turns.wait_turn("sms")
    assert windows.takes == [("notify-day:sms", DAY_AHEAD), ("notify-minute", 1)]


@pytest.mark.parametrize("channel", ["sms", "email"])
async def test_a_cancelled_asker_does_not_stop_the_others(channel: str) -> None:
    windows = Windows(per_window=[1, 1], per_day=100)
    turns = ProviderBudget(windows, 3000, {"sms": 10, "email": 10})  # type: ignore[arg-type]
    first = asyncio.create_task(turns.wait_turn(channel))
    second = asyncio.create_task(turns.wait_turn(channel))
    await asyncio.sleep(0)
    first.cancel()
    await second
    assert first.cancelled()


RAISED = WINDOWS_PER_MINUTE_AT_MOST * 500  # a limit Notify raised: 500 a window
AT_LEAST = 500 // WINDOW_AHEAD  # the window's turns a process takes at once, at least


async def test_under_a_raised_limit_a_windows_turns_are_taken_ahead_while_it_lasts() -> None:
    windows = Windows(per_window=[500] * 3, per_day=1000, window_left=0.5)
    clock = Clock()
    turns = budget(windows, clock, per_minute=RAISED)
    for asking in (3, 3, 3, 2):  # batches of sends, one after the other, in one window
        await asyncio.gather(*(turns.wait_turn("sms") for _ in range(asking)))
    assert [t for t in windows.takes if t[0] == "notify-minute"] == [
        ("notify-minute", AT_LEAST),  # the first nine from these ten,
        ("notify-minute", AT_LEAST),  # the last two: one left, and ten more ahead
    ]
    clock.now += 0.5  # that window is over: what was left of it goes with it
    await turns.wait_turn("sms")
    assert windows.takes[-1] == ("notify-minute", AT_LEAST)
    assert len([t for t in windows.takes if t[0] == "notify-minute"]) == 3


async def test_under_the_standard_limit_nothing_is_taken_ahead_of_a_window() -> None:
    windows = Windows(per_window=[49] * 3, per_day=1000, window_left=0.5)
    turns = budget(windows)
    for asking in (1, 2):
        await asyncio.gather(*(turns.wait_turn("sms") for _ in range(asking)))
    assert [t for t in windows.takes if t[0] == "notify-minute"] == [
        ("notify-minute", 1),
        ("notify-minute", 2),
    ]
