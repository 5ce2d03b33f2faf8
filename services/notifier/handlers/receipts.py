"""Time's door for delivery: at an interval, messages to her that were not delivered fall
back to her next channel (`fall_back_due`), by every notifier at once if need be. The clock
is injected, so tests move time instead of waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from notifier.ports import ContactSource, Fallbacks
from notifier.service_layer.batch import Notifier
from notifier.service_layer.fallback import BATCH, fall_back_due
from shared.logging import get_logger
from shared.poison import Transient
from shared.service import Service

log = get_logger(__name__)
Now = Callable[[], datetime]


def fallback_worker(
    fallbacks: Fallbacks,
    notifier: Notifier,
    intake: ContactSource,
    interval_seconds: float,
    now: Now = lambda: datetime.now(UTC),
) -> Callable[[Service], Awaitable[None]]:
    async def fall_back_forever(_service: Service) -> None:
        while True:
            try:
                passed = await fall_back_due(fallbacks, notifier, intake, now())
            except Transient as busy:  # another notifier holds some; they come again
                log.info("fallbacks passed over for now", why=str(busy))
                passed = None
            if passed is None or max(passed.fell_back, passed.sent) < BATCH:
                await asyncio.sleep(interval_seconds)

    return fall_back_forever
