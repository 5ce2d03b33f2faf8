"""The fence before a provider call: it asks the database only once half the lease may have
passed, and then refuses a lease that another notifier has taken over."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from notifier.domain.plan import Message
from notifier.service_layer.claims import HeldElsewhere, LeaseLost, Leases
from notifier.service_layer.work import Incoming, Task
from tests.support.fakes import InMemoryNotifications, NotifierState
from tests.unit.notifier.test_service_layer import ROUTED, routed

LEASE = 30.0


@dataclass
class Clock:
    """Monotonic time both the leases and the fake database read; tests move it."""

    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


async def claimed() -> tuple[Clock, InMemoryNotifications, Leases, Task]:
    """One message claimed just now, by leases and a database on the same clock."""
    clock = Clock()
    store = InMemoryNotifications(NotifierState(), monotonic=clock)
    leases = Leases(store, uuid.uuid4(), LEASE, monotonic=clock)
    message = Message("patient", "sms", "07700900123", None, "Hello")
    (task,) = await leases.claim([(Incoming(routed(), ROUTED), message, None)])
    return clock, store, leases, task


async def test_the_fence_asks_the_database_only_once_half_the_lease_may_have_passed() -> None:
    clock, store, leases, task = await claimed()

    clock.now += LEASE / 2 - 0.1
    await leases.fence(task)  # taken just now: no other process can hold it
    assert store.fence_queries == 0

    clock.now += 0.2
    await leases.fence(task)  # half the lease may have passed: asked, and renewed
    assert store.fence_queries == 1
    clock.now += LEASE / 2 - 0.1
    await leases.fence(task)
    assert store.fence_queries == 1

    # This process stalls past its lease; another notifier takes the message over.
    clock.now += LEASE + 1
    taken = await store.claim([task.row.notification_id], uuid.uuid4(), LEASE)
    assert taken == {task.row.notification_id: "sending"}
    with pytest.raises(LeaseLost):
        await leases.fence(task)  # the stalled one wakes: it must not send
    assert store.fence_queries == 2


async def test_a_released_message_is_fenced_by_the_database() -> None:
    _clock, store, leases, task = await claimed()
    leases.release([task.row.notification_id])
    await leases.fence(task)
    assert store.fence_queries == 1


async def test_a_batch_held_elsewhere_keeps_nothing_of_it_to_fence() -> None:
    """Part of a batch leased by another notifier: the batch comes again, here or elsewhere,
    so the rows this call created are not remembered as certainly ours."""
    clock = Clock()
    store = InMemoryNotifications(NotifierState(), monotonic=clock)
    theirs = Leases(store, uuid.uuid4(), LEASE, monotonic=clock)
    mine = Leases(store, uuid.uuid4(), LEASE, monotonic=clock)
    incoming = Incoming(routed(), ROUTED)
    sms = Message("patient", "sms", "07700900123", None, "Hello")
    email = Message("patient", "email", "someone@example.com", "Subject", "Hello")
    (held,) = await theirs.claim([(incoming, sms, None)])
    await store.claim([held.row.notification_id], theirs.owner, LEASE)  # it is sending

    with pytest.raises(HeldElsewhere):
        await mine.claim([(incoming, email, None), (incoming, sms, None)])

    assert mine._sure_until == {}
    assert len(store.state.rows) == 2  # the new row stays, to be claimed again
