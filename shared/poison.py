"""Keep a consumer moving: tell a fault that can pass from a message that can never succeed.

A fault that can pass (PostgreSQL or Kafka away, a timeout) is retried, backed off, for as
long as it lasts: dead-lettering every message during an outage would turn an outage into
manual replays. Anything else is a fact about the message, so the message is isolated and
dead-lettered with the reason, and the rest of the batch is processed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg
from aiokafka import errors as kafka_errors

from shared.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # connection refused or reset, including asyncpg's and aiohttp's
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # a connection closed under us
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.RequestTimedOutError,
)


class Transient(Exception):
    """Raised by an adapter for a fault that can pass (a provider or service away).
    `pause_at_most` caps the consumer's backoff for a fault known to pass soon."""

    pause_at_most: float | None = None


def is_transient(error: BaseException) -> bool:
    return isinstance(error, (Transient, *_TRANSIENT))


def why(error: BaseException) -> str:
    """A reason for a dead letter that names the fault, never the data: database and
    validation messages may quote the value that failed."""
    return f"cannot be processed ({type(error).__name__})"


class Backoff:
    """Pause before a failed batch is fetched again: 0.5 s, doubling, at most 30 s (well
    inside the consumer's max poll interval), reset by the next batch that succeeds."""

    def __init__(self, consumer: str, first: float = 0.5, most: float = 30.0) -> None:
        self.consumer, self.first, self.most, self._failures = consumer, first, most, 0

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Around a batch handler: a failure pauses before it propagates (the batch is then
        fetched again), so an outage is not met with a hot loop of retries and logs."""
        try:
            yield
        except Exception as error:
            wait = min(
                self.first * 2**self._failures,
                self.most,
                getattr(error, "pause_at_most", None) or self.most,
            )
            self._failures += 1
            log.warning(
                "batch failed, fetched again",
                consumer=self.consumer,
                fault=type(error).__name__,
                transient=is_transient(error),
                wait=wait,
            )
            await asyncio.sleep(wait)
            raise
        self._failures = 0


async def isolate(
    items: Sequence[T],
    process: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
    on_poison: Callable[[T, BaseException], Awaitable[None]],
) -> list[R]:
    """Process the batch at once; if it fails for a reason that is not transient, process
    each item alone so that only the items that fail on their own are given to `on_poison`.
    Transient faults propagate (the batch is fetched again)."""
    if not items:
        return []
    try:
        return list(await process(items))
    except Exception as error:
        if is_transient(error):
            raise
        if len(items) == 1:
            await on_poison(items[0], error)
            return []
        log.warning(
            "batch failed, processing its messages one by one",
            fault=type(error).__name__,
            size=len(items),
        )
    results: list[R] = []
    for item in items:
        try:
            results.extend(await process([item]))
        except Exception as error:
            if is_transient(error):
                raise
            await on_poison(item, error)
    return results
