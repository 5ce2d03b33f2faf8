"""GOV.UK Notify's limits, shared by every notifier process (counted in PostgreSQL): 3,000
messages per rolling minute per API key, and a daily number per channel.

The minute is paced in windows of 1 s, each allowed a 1/61 share: any rolling minute touches at
most 61 windows, so it never holds more than the limit (at the cost of using ~98% of it). A
message over the daily limit is held back, not failed, until the next day (UTC). The day's
turns are taken a few dozen ahead (`DAY_AHEAD`): a statement per message's day was half the
budget's cost, and a day's limit is hundreds of thousands; turns taken ahead and not used
(the process stopped, or the day ended) count as used, so the day is never overrun. A
window's turns are taken ahead too, a fiftieth of its share at least (`WINDOW_AHEAD`), and
used only while that window lasts on our clock: under Notify's standard limit that is one
turn (nothing ahead), under a raised one a statement per window instead of one per batch
of sends; what a process leaves unused wastes at most a fiftieth of a window."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from notifier.metrics import NOTIFICATIONS_HELD
from shared.database import Connection
from shared.logging import get_logger
from shared.poison import Transient
from shared.rate_limits import RateLimits

log = get_logger(__name__)
WINDOW_SECONDS = 1
WINDOWS_PER_MINUTE_AT_MOST = 61
DAY_SECONDS = 86_400
DAY_AHEAD = 50  # the day's turns a process takes at once, at least
WINDOW_AHEAD = 50  # a process takes at least 1/WINDOW_AHEAD of a window's share at once


class DailyLimitReached(Transient):
    """The day's messages on this channel are used up: held back until the next day."""


class ProviderBudget:
    """Every message asks for its turn; the turns asked for at once, on one channel, are
    taken from the shared budget together, in one statement for the day and one for the
    window. Under load that is one round trip for a batch's messages, not two for each
    (two commits on the same hot rows, which held every sender in line)."""

    def __init__(
        self,
        limits: RateLimits,
        per_minute: int,
        per_day: dict[str, int],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._cap = max(1, per_minute // WINDOWS_PER_MINUTE_AT_MOST)
        self._per_day = per_day
        self._clock = clock
        self._asking: dict[str, list[asyncio.Future[None]]] = {}
        self._takers: dict[str, asyncio.Task[None]] = {}
        # Per channel: the day's turns taken ahead and not yet handed out, and when (on the
        # clock) the day they were taken from ends.
        self._day_ahead: dict[str, tuple[int, float]] = {}
        # The current window's turns taken ahead (shared by the channels), and when (on the
        # clock, at the earliest) that window ends.
        self._window_ahead: tuple[int, float] = (0, 0.0)
        self._window_at_least = max(1, self._cap // WINDOW_AHEAD)
        self._window_lock = asyncio.Lock()

    async def wait_turn(self, channel: str) -> None:
        """Return when one more message on `channel` keeps us inside both limits; raises
        `DailyLimitReached` when the day's are used up."""
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._asking.setdefault(channel, []).append(turn)
        if channel not in self._takers:
            self._takers[channel] = asyncio.create_task(self._hand_out(channel))
        await turn

    async def _hand_out(self, channel: str) -> None:
        """Take turns for everyone asking on `channel`, until nobody is left waiting. A fault
        (PostgreSQL away) goes to every asker, as if each had asked alone."""
        asking: list[asyncio.Future[None]] = []
        waiting: list[asyncio.Future[None]] = []  # their day's message taken, not their window
        try:
            while self._asking.get(channel) or waiting:
                asking, self._asking[channel] = self._asking.get(channel, []), []
                if asking:
                    granted, seconds_left = await self._from_the_day(channel, len(asking))
                    waiting += asking[:granted]
                    refused, asking = asking[granted:], []
                    if refused:
                        self._hold_for_the_day(channel, refused, seconds_left)
                waiting = [turn for turn in waiting if not turn.done()]  # gone: no turn
                if not waiting:
                    continue
                granted, seconds_left = await self._from_the_window(len(waiting))
                for turn in waiting[:granted]:
                    if not turn.done():  # its sender may have been cancelled meanwhile
                        turn.set_result(None)
                waiting = waiting[granted:]
                if waiting:
                    NOTIFICATIONS_HELD.labels(channel, "per-minute-limit").inc(len(waiting))
                    await asyncio.sleep(seconds_left)
        except asyncio.CancelledError:  # shutting down: nobody is sent anything
            for turn in asking + waiting + self._asking.pop(channel, []):
                turn.cancel()
            raise
        except Exception as error:  # each asker raises it, as if it had asked alone
            _fail(asking + waiting + self._asking.pop(channel, []), error)
        finally:
            del self._takers[channel]

    async def _from_the_day(self, channel: str, wanted: int) -> tuple[int, float]:
        """Turns of the day for `wanted` messages, from those taken ahead or else from the
        shared count (DAY_AHEAD at least): how many, and the seconds until the day ends."""
        ahead, day_ends = self._day_ahead.get(channel, (0, 0.0))
        if self._clock() >= day_ends:
            ahead = 0  # taken from a day that has ended: gone with it
        if ahead < wanted:
            day = await self._limits.take(
                f"notify-day:{channel}",
                self._per_day[channel],
                DAY_SECONDS,
                max(wanted - ahead, DAY_AHEAD),
            )
            ahead, day_ends = ahead + day.granted, self._clock() + day.seconds_left
        granted = min(ahead, wanted)
        self._day_ahead[channel] = (ahead - granted, day_ends)
        return granted, day_ends - self._clock()

    async def _from_the_window(self, wanted: int) -> tuple[int, float]:
        """Turns of the current window for `wanted` messages, from those taken ahead while
        the window lasts, else from the shared count: how many, and the seconds until the
        next window. One channel at a time: the turns ahead are the process's, not a
        channel's."""
        async with self._window_lock:
            ahead, ends = self._window_ahead
            asked_at = self._clock()
            if asked_at >= ends:
                ahead = 0  # its window is over: they go with it, counted as used
            if ahead < wanted:
                window = await self._limits.take(
                    "notify-minute",
                    self._cap,
                    WINDOW_SECONDS,
                    max(wanted - ahead, self._window_at_least),
                )
                # The window ends no later than this: the database counted from after we asked.
                now_ends = asked_at + window.seconds_left
                if ahead and now_ends < ends + WINDOW_SECONDS / 2:  # the same window
                    ahead, ends = ahead + window.granted, min(ends, now_ends)
                else:  # a window of its own (what was left of an earlier one goes with it)
                    ahead, ends = window.granted, now_ends
            granted = min(ahead, wanted)
            self._window_ahead = (ahead - granted, ends)
            return granted, max(0.0, ends - self._clock())

    def _hold_for_the_day(
        self, channel: str, refused: list[asyncio.Future[None]], seconds_left: float
    ) -> None:
        NOTIFICATIONS_HELD.labels(channel, "daily-limit").inc(len(refused))
        log.warning(
            "daily limit reached, held until tomorrow",
            channel=channel,
            held=len(refused),
            wait=seconds_left,
        )
        _fail(refused, DailyLimitReached(f"the day's {channel} messages are used up"))


def _fail(turns: list[asyncio.Future[None]], error: BaseException) -> None:
    for turn in turns:
        if not turn.done():
            turn.set_exception(error)


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
