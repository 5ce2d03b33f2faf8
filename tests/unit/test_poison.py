"""Isolation of poison within a batch: only what fails on its own is dead-lettered, and a
fault that can pass is never turned into a dead letter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from shared.poison import Backoff, Transient, is_transient, isolate


class FakeStore:
    """Fails any batch holding a poison item, as PostgreSQL refuses a whole statement."""

    def __init__(self, poison: set[int], transient: bool = False) -> None:
        self.poison, self.transient, self.stored, self.calls = poison, transient, [], 0

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.calls += 1
        if self.poison & set(items):
            if self.transient:
                raise asyncpg.CannotConnectNowError("the database system is starting up")
            raise asyncpg.UntranslatableCharacterError("unsupported Unicode escape sequence")
        self.stored += items
        return [i * 10 for i in items]


async def test_only_the_poison_is_dead_lettered_and_the_rest_of_the_batch_processed() -> None:
    store, dead = FakeStore({3}), []

    async def poison(item: int, error: BaseException) -> None:
        dead.append((item, type(error).__name__))

    results = await isolate([1, 2, 3, 4], store, poison)
    assert results == [10, 20, 40]
    assert store.stored == [1, 2, 4]
    assert dead == [(3, "UntranslatableCharacterError")]


async def test_a_clean_batch_is_processed_in_one_call() -> None:
    store = FakeStore(set())
    assert await isolate([1, 2], store, _never) == [10, 20]
    assert store.calls == 1


async def test_a_fault_that_can_pass_propagates_and_nothing_is_dead_lettered() -> None:
    store = FakeStore({1}, transient=True)
    with pytest.raises(asyncpg.CannotConnectNowError):
        await isolate([1, 2], store, _never)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError(), True),
        (Transient("intake away"), True),
        (asyncpg.exceptions.AdminShutdownError(), True),
        (asyncpg.UntranslatableCharacterError(), False),
        (ValueError("bad"), False),
    ],
)
def test_faults_are_told_apart(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


async def _never(item: int, error: BaseException) -> None:
    raise AssertionError(f"{item} dead-lettered: {error!r}")


class _SoonOver(Transient):
    pause_at_most = 0.01


async def pauses(
    monkeypatch: pytest.MonkeyPatch, backoff: Backoff, error: Exception, times: int
) -> list[float]:
    """The pauses `guard` takes before each of `times` failures propagates."""
    taken: list[float] = []

    async def record(seconds: float) -> None:
        taken.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", record)
    for _ in range(times):
        with pytest.raises(type(error)):
            async with backoff.guard():
                raise error
    return taken


async def test_a_backoff_doubles_up_to_its_most(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = await pauses(monkeypatch, Backoff("t", first=0.5, most=4.0), Transient("away"), 5)
    assert taken == [0.5, 1.0, 2.0, 4.0, 4.0]


async def test_a_fault_known_to_pass_soon_caps_the_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lease held by another notifier ends within the lease: ask again soon, not after 30 s."""
    backoff = Backoff("t", first=0.005, most=30.0)
    taken = await pauses(monkeypatch, backoff, _SoonOver("held"), 4)
    assert taken == [0.005, 0.01, 0.01, 0.01]
