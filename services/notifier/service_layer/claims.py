"""Rows and their leases: a message is sent only by the process holding its lease.

A claim is a lease `lease_seconds` long; provider calls time out after 10 s, well inside it.
The fence before each provider call asks PostgreSQL (and renews the lease) only once half the
lease may have passed since it was taken or last renewed: until then no other process can
hold it, whatever this one's stalls, because the database's clock started the lease after
our monotonic clock started counting. That spares a round trip per message on the hot path
and keeps the guarantee. What remains: a process that stalls for longer than the lease
*between* its fence check and the provider call, a window of microseconds against a lease of
half a minute, could send a message the next holder also sends. The cost: a crashed process's
messages wait for its lease to end before another process reconciles and sends them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID

from notifier.domain.plan import Message
from notifier.ports import Key, Notifications, Row
from notifier.service_layer.work import Incoming, Task, key
from shared.logging import get_logger
from shared.poison import Transient

log = get_logger(__name__)


class HeldElsewhere(Transient):
    """Another notifier holds a live lease on some of the batch's messages. Asked again every
    2 s at most, not after a backoff grown to 30 s: a lease of a crashed notifier ends within
    `lease_seconds`, and its messages should go soon after, not up to 30 s later."""

    pause_at_most = 2.0


class LeaseLost(Transient):
    """Our lease ended and another notifier took the message over: we must not send it."""


@dataclass
class Leases:
    store: Notifications
    owner: UUID  # this process, as a lease holder
    lease_seconds: float
    monotonic: Callable[[], float] = time.monotonic  # injected: tests move time
    # Until when (monotonic) each lease of ours is certainly live: half a lease after we
    # asked to take or renew it (the database started the lease after we asked).
    _sure_until: dict[UUID, float] = field(default_factory=dict, repr=False)

    async def claim(self, wanted: Sequence[tuple[Incoming, Message, str | None]]) -> list[Task]:
        """The messages still to end, their rows created and claimed: a new message's row is
        created already leased to us (one statement, one row version); only the rows already
        there (a batch come again, a message another process holds) are read and claimed.
        `wanted` is each planned message with why it cannot be sent (None if it can)."""
        # A message planned twice (its event twice in the batch) is one message, sent once.
        once: dict[Key, tuple[Incoming, Message, str | None]] = {}
        for incoming, message, why in wanted:
            once.setdefault(key(incoming, message), (incoming, message, why))
        wanted = list(once.values())
        asked_at = self.monotonic()
        created = await self.store.create_claimed(
            [(key(i, m), i.event.referral_id, why is None) for i, m, why in wanted],
            self.owner,
            self.lease_seconds,
        )
        new = [(i, m, why) for i, m, why in wanted if key(i, m) in created]
        # A row created by this statement had no earlier state: 'pending', nothing to reconcile.
        tasks = [Task(i, m, Row(created[key(i, m)], "pending", 0), why) for i, m, why in new]
        sure = asked_at + self.lease_seconds / 2
        self._sure_until.update(
            (t.row.notification_id, sure) for t in tasks if t.unreachable is None
        )
        there = [(i, m, why) for i, m, why in wanted if key(i, m) not in created]
        if there:
            try:
                tasks += await self._claim_existing(there)
            except HeldElsewhere:
                # The batch comes again (here or elsewhere): nothing of it is left to fence.
                self.release([t.row.notification_id for t in tasks])
                raise
            # In the order planned: a referral's messages are sent in its events' order.
            place = {k: n for n, k in enumerate(once)}
            tasks.sort(key=lambda t: place[key(t.incoming, t.message)])
        return tasks

    async def _claim_existing(
        self, wanted: Sequence[tuple[Incoming, Message, str | None]]
    ) -> list[Task]:
        """Rows already there: read, then claimed if still to end and not leased elsewhere."""
        rows = await self.store.ensure([(key(i, m), i.event.referral_id) for i, m, _ in wanted])
        tasks = []
        for incoming, message, unreachable in wanted:
            row = rows[key(incoming, message)]
            if row.status in ("sent", "delivered", "failed"):
                log.info(
                    "notification already handled",
                    status=row.status,
                    recipient=message.recipient,
                    channel=message.channel,
                )
            elif unreachable is None or row.status == "pending":
                tasks.append(Task(incoming, message, row, unreachable))
        claimable = [t for t in tasks if t.unreachable is None]
        asked_at = self.monotonic()
        taken = await self.store.claim(
            [t.row.notification_id for t in claimable], self.owner, self.lease_seconds
        )
        self._sure_until.update(dict.fromkeys(taken, asked_at + self.lease_seconds / 2))
        held = [t for t in claimable if t.row.notification_id not in taken]
        if held:
            self.release(list(taken))  # asked again with the batch
            # Another notifier holds a live lease (it may be stalled, or still sending): its
            # messages are not ours to send. The batch comes again; by then it has finished,
            # or its lease has ended and the rows are reconciled and taken over.
            raise HeldElsewhere(f"{len(held)} notifications are leased by another notifier")
        return [
            replace(t, row=replace(t.row, status=taken[t.row.notification_id]))
            if t.unreachable is None
            else t
            for t in tasks
        ]

    async def fence(self, task: Task) -> None:
        """Immediately before a provider call: is the lease still ours? Asks the database
        (and renews the lease) once half of it may have passed; until then it cannot have."""
        notification_id = task.row.notification_id
        asked_at = self.monotonic()
        if asked_at < self._sure_until.get(notification_id, asked_at):
            return
        ours = await self.store.still_ours(notification_id, self.owner, self.lease_seconds)
        if ours:
            self._sure_until[notification_id] = asked_at + self.lease_seconds / 2
        else:
            self._sure_until.pop(notification_id, None)
            log.warning(
                "notification lease lost, send given up",
                recipient=task.message.recipient,
                channel=task.message.channel,
            )
            raise LeaseLost("another notifier took this notification over")

    def release(self, notification_ids: Sequence[UUID]) -> None:
        """These messages ended (or were given up): nothing more to fence for them."""
        for notification_id in notification_ids:
            self._sure_until.pop(notification_id, None)
