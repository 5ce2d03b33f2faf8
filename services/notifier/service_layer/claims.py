"""Rows and their leases: a message is sent only by the process holding its lease.

A claim is a lease `lease_seconds` long, renewed at every provider call; provider calls time
out after 10 s, well inside it. What remains: a process that stalls for longer than the lease
*between* its fence check and the provider call, a window of microseconds against a lease of
half a minute, could send a message the next holder also sends. The cost: a crashed process's
messages wait for its lease to end before another process reconciles and sends them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from notifier.domain.plan import Message
from notifier.ports import Notifications
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

    async def claim(self, wanted: Sequence[tuple[Incoming, Message, str | None]]) -> list[Task]:
        """The messages still to end, their rows created and claimed in two statements.
        `wanted` is each planned message with why it cannot be sent (None if it can)."""
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
        taken = await self.store.claim(
            [t.row.notification_id for t in claimable], self.owner, self.lease_seconds
        )
        held = [t for t in claimable if t.row.notification_id not in taken]
        if held:
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
        """Immediately before a provider call: is the lease still ours? (renews it)."""
        ours = await self.store.still_ours(task.row.notification_id, self.owner, self.lease_seconds)
        if not ours:
            log.warning(
                "notification lease lost, send given up",
                recipient=task.message.recipient,
                channel=task.message.channel,
            )
            raise LeaseLost("another notifier took this notification over")
