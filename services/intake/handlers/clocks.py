"""Time's door: at an interval, every clock that ran out is fired (`fire_due`), and the
details of referrals finished long enough ago are erased (`erase_finished`), by each intake
process at once if need be (each row is taken once: SKIP LOCKED and one transaction). The
clock is injected, so tests move time instead of waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from intake import service_layer
from intake.ports import UnitOfWork
from intake.service_layer.retention import ERASE_BATCH, erase_finished
from shared.directory import Escalation, Retention
from shared.service import Service

Now = Callable[[], datetime]


def clock_worker(
    unit_of_work: UnitOfWork,
    escalation: Escalation,
    interval_seconds: float,
    now: Now = lambda: datetime.now(UTC),
) -> Callable[[Service], Awaitable[None]]:
    async def fire_forever(_service: Service) -> None:
        while True:
            fired = await service_layer.fire_due(unit_of_work, now(), escalation)
            if len(fired) < service_layer.FIRE_BATCH:  # a full batch: more may be due now
                await asyncio.sleep(interval_seconds)

    return fire_forever


def retention_worker(
    unit_of_work: UnitOfWork,
    retention: Retention,
    interval_seconds: float,
    now: Now = lambda: datetime.now(UTC),
) -> Callable[[Service], Awaitable[None]]:
    """At an interval, the details of referrals finished long enough ago are erased."""

    async def erase_forever(_service: Service) -> None:
        while True:
            erased = await erase_finished(unit_of_work, now(), retention)
            if erased < ERASE_BATCH:  # a full batch: more may be due now
                await asyncio.sleep(interval_seconds)

    return erase_forever
