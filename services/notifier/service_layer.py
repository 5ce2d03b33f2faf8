"""Tell everyone a batch of decisions concerns, each message exactly once in practice.

Each message is a row keyed by (decision event, recipient, channel). Rows are claimed before
the provider is called. A row found still 'sending' (the process died mid-send) is reconciled
with the provider by its reference before anything is sent again. Transient failures are
retried with exponential backoff and jitter up to a limit; permanent ones are not.

Each step takes the whole batch at once: one contact read from intake, one statement to create
the rows, one to claim them, and one transaction for the endings, their events (through the
outbox) and the inbox. Messages to different referrals are sent concurrently; those of one
referral in order (a triage notice before its resolution).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID, uuid4

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from notifier.adapters import notification_store as store
from notifier.adapters.failures import PermanentFailure, RateLimited, TransientFailure
from notifier.adapters.intake_client import IntakeClient
from notifier.adapters.notification_store import Ending, Row
from notifier.adapters.notify_provider import NotifyProvider
from notifier.adapters.provider_budget import ProviderBudget
from notifier.adapters.smtp_provider import SmtpProvider
from notifier.adapters.webhook_provider import WebhookProvider
from notifier.domain.plan import Channel, Contact, Message, plan
from notifier.domain.templates import Templates
from notifier.metrics import NOTIFICATIONS, NOTIFICATIONS_RATE_LIMITED
from shared import topics
from shared.contracts import DeadLetter, NotificationFailed, NotificationSent, ReferralDecided
from shared.database import Database
from shared.directory import Directory
from shared.logging import correlation, get_logger
from shared.poison import Transient

log = get_logger(__name__)


class HeldElsewhere(Transient):
    """Another notifier holds a live lease on some of the batch's messages."""


class LeaseLost(Transient):
    """Our lease ended and another notifier took the message over: we must not send it."""


@dataclass(frozen=True)
class Retry:
    attempts: int
    initial: float
    maximum: float


@dataclass(frozen=True)
class Incoming:
    decision: ReferralDecided
    source_topic: str


@dataclass(frozen=True)
class Task:
    """One message of one decision, with its row; `unreachable` says why it cannot be sent."""

    incoming: Incoming
    message: Message
    row: Row
    unreachable: str | None = None


@dataclass
class Notifier:
    database: Database
    intake: IntakeClient
    notify: NotifyProvider
    webhook: WebhookProvider
    smtp: SmtpProvider
    directory: Directory
    templates: Templates
    referral_link_base: str
    retry: Retry
    concurrency: int = 64  # referrals whose messages are in flight at once
    # A claim is a lease this long, renewed at every provider call; provider calls time out
    # after 10 s, well inside it. What remains: a process that stalls for longer than the
    # lease *between* its fence check and the provider call, a window of microseconds
    # against a lease of half a minute, could send a message the next holder also sends.
    # The cost: a crashed process's messages wait for its lease to end before another
    # process reconciles and sends them.
    lease_seconds: float = 30.0
    owner: UUID = field(default_factory=uuid4)  # this process, as a lease holder
    budget: ProviderBudget | None = None  # Notify's limits; None: unpaced

    async def handle_batch(self, batch: Sequence[Incoming]) -> list[tuple[Incoming, str]]:
        """Everything these decisions call for; safe to call again with the same decisions.

        Returns the decisions whose referral intake does not know, with why (for the
        dead-letter topic). Raises if intake is unreachable (then nothing is sent) or if a
        send broke unexpectedly (what ended is recorded first; the batch may come again)."""
        async with self.database.pool.acquire() as conn:
            done = await store.handled(conn, [i.decision.event_id for i in batch])
        fresh = [i for i in batch if i.decision.event_id not in done]
        if len(fresh) < len(batch):
            log.info("decisions already notified", count=len(batch) - len(fresh))
        # Only the contacts still needed are read (each read is logged by intake).
        referral_ids = list(dict.fromkeys(i.decision.referral_id for i in fresh))
        contacts, why_missing = await self.intake.contacts(referral_ids)
        known = [i for i in fresh if i.decision.referral_id in contacts]
        tasks = await self._claim([(i, contacts[i.decision.referral_id]) for i in known])

        endings, failures = await self._end_all(tasks)
        handled = [
            (i.decision.event_id, i.source_topic)
            for i in known
            if i.decision.referral_id not in failures
        ]
        async with self.database.pool.acquire() as conn:
            await store.finish(conn, endings, handled, owner=self.owner)
        if failures:
            raise next(iter(failures.values()))  # the batch comes again; what ended is kept
        return [(i, why_missing) for i in fresh if i.decision.referral_id not in contacts]

    async def _end_all(self, tasks: list[Task]) -> tuple[list[Ending], dict[UUID, BaseException]]:
        """End every task: referrals at once, each referral's decisions in order, a decision's
        own messages at once. Returns the endings, and the referrals whose sending broke."""
        by_referral: dict[UUID, dict[UUID, list[Task]]] = {}
        for task in tasks:
            decision = task.incoming.decision
            of_referral = by_referral.setdefault(decision.referral_id, {})
            of_referral.setdefault(decision.event_id, []).append(task)
        limit = asyncio.Semaphore(self.concurrency)

        async def in_order(decisions: dict[UUID, list[Task]]) -> list[Ending]:
            async with limit:
                return [
                    ending
                    for of_decision in decisions.values()
                    for ending in await asyncio.gather(*map(self._end, of_decision))
                ]

        results = await asyncio.gather(*map(in_order, by_referral.values()), return_exceptions=True)
        endings: list[Ending] = []
        failures: dict[UUID, BaseException] = {}
        for referral_id, result in zip(by_referral, results, strict=True):
            if isinstance(result, BaseException):
                failures[referral_id] = result
            else:
                endings += result
        return endings, failures

    async def _claim(self, known: list[tuple[Incoming, Contact]]) -> list[Task]:
        """The messages still to end, their rows created and claimed in two statements."""
        wanted: list[tuple[Incoming, Message, str | None]] = []
        for incoming, contact in known:
            messages, missed = plan(
                incoming.decision,
                contact,
                self.directory,
                self.templates,
                self._link(incoming.decision),
            )
            wanted += [(incoming, m, None) for m in messages]
            for missing in missed:
                channel: Channel = "letter" if missing.recipient == "patient" else "email"
                message = Message(missing.recipient, channel, "", None, "")
                wanted.append((incoming, message, str(missing)))
        async with self.database.pool.acquire() as conn:
            rows = await store.ensure(
                conn, [(_key(i, m), i.decision.referral_id) for i, m, _ in wanted]
            )
            tasks = []
            for incoming, message, unreachable in wanted:
                row = rows[_key(incoming, message)]
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
            taken = await store.claim(
                conn,
                [t.row.notification_id for t in claimable],
                self.owner,
                self.lease_seconds,
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

    async def _end(self, task: Task) -> Ending:
        decision, message = task.incoming.decision, task.message
        with correlation(decision.correlation_id):
            if task.unreachable is not None:
                return self._failed(task, task.unreachable, attempts=1)
            reference = str(task.row.notification_id)
            if task.row.status == "sending":  # a send may have happened: ask the provider first
                await self._fence(task)
                provider_id = await self._already_sent(message, reference)
                if provider_id is not None:
                    log.warning(
                        "notification found at the provider after a restart",
                        recipient=message.recipient,
                        channel=message.channel,
                    )
                    return self._sent(task, provider_id)
            try:
                provider_id = await self._send_with_retries(task, reference)
            except (PermanentFailure, TransientFailure) as error:
                return self._failed(task, str(error), task.row.attempts + self.retry.attempts)
            return self._sent(task, provider_id)

    def _link(self, decision: ReferralDecided) -> str:
        return f"{self.referral_link_base.rstrip('/')}/v1/referrals/{decision.referral_id}"

    async def _already_sent(self, message: Message, reference: str) -> str | None:
        if message.channel in ("sms", "email", "letter") and message.recipient == "patient":
            return await self.notify.find(reference)
        return None  # webhooks carry X-Delivery-Id, emails a Message-ID: receivers dedupe

    async def _fence(self, task: Task) -> None:
        """Immediately before a provider call: is the lease still ours? (renews it)."""
        async with self.database.pool.acquire() as conn:
            ours = await store.still_ours(
                conn, task.row.notification_id, self.owner, self.lease_seconds
            )
        if not ours:
            log.warning(
                "notification lease lost, send given up",
                recipient=task.message.recipient,
                channel=task.message.channel,
            )
            raise LeaseLost("another notifier took this notification over")

    async def _send_with_retries(self, task: Task, reference: str) -> str:
        message = task.message
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.retry.initial, max=self.retry.maximum, jitter=self.retry.initial
            ),
            retry=retry_if_exception_type(TransientFailure),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number > 1:
                    log.info("notification retry", attempt=number, channel=message.channel)
                    # A 5xx or a timeout may come after the provider accepted the message:
                    # ask it by reference before sending again.
                    found = await self._already_sent(message, reference)
                    if found is not None:
                        return found
                return await self._send_paced(task, reference)
        raise AssertionError("unreachable")  # AsyncRetrying returns or raises

    async def _send_paced(self, task: Task, reference: str) -> str:
        """One attempt. A provider that says "slow down" (429) is waited for and asked again,
        as often as it says so: that is pacing, not a failed attempt."""
        decision, message = task.incoming.decision, task.message
        while True:
            if self.budget is not None and message.recipient == "patient":
                await self.budget.wait_turn(message.channel)  # through Notify
            await self._fence(task)
            try:
                return await self._send_once(decision, message, reference)
            except RateLimited as slow_down:
                NOTIFICATIONS_RATE_LIMITED.labels(message.channel).inc()
                log.info(
                    "provider rate limit, waiting",
                    channel=message.channel,
                    wait=slow_down.wait_seconds,
                )
                await asyncio.sleep(slow_down.wait_seconds)

    async def _send_once(self, decision: ReferralDecided, message: Message, reference: str) -> str:
        if message.channel == "webhook":
            return await self.webhook.send(message, reference, self._clinic_payload(decision))
        if message.recipient == "referrer":
            return await self.smtp.send(message, reference)
        return await self.notify.send(message, reference)

    def _clinic_payload(self, decision: ReferralDecided) -> dict[str, object]:
        """What a clinic receives: the reference and a link, never the patient's details."""
        return {
            "event": "referral.routed",
            "delivery_for": str(decision.event_id),
            "referral_id": str(decision.referral_id),
            "tracking_reference": decision.tracking_reference,
            "service": decision.service.value,
            "destination": decision.destination.model_dump() if decision.destination else None,
            "urgent": decision.urgent,
            "referral_url": self._link(decision),
            "decided_at": decision.occurred_at.isoformat(),
        }

    def _sent(self, task: Task, provider_id: str) -> Ending:
        decision, message = task.incoming.decision, task.message
        event = NotificationSent(
            correlation_id=decision.correlation_id,
            decision_event_id=decision.event_id,
            referral_id=decision.referral_id,
            recipient=message.recipient,
            channel=message.channel,
            provider_reference=provider_id,
        )
        NOTIFICATIONS.labels(message.recipient, message.channel, "sent").inc()
        log.info(
            "notification sent",
            recipient=message.recipient,
            channel=message.channel,
            referral_id=str(decision.referral_id),
        )
        return Ending(
            task.row.notification_id,
            "sent",
            provider_id=provider_id,
            events=((event, str(decision.referral_id), None),),
        )

    def _failed(self, task: Task, error: str, attempts: int) -> Ending:
        incoming, message = task.incoming, task.message
        decision = incoming.decision
        failed = NotificationFailed(
            correlation_id=decision.correlation_id,
            decision_event_id=decision.event_id,
            referral_id=decision.referral_id,
            recipient=message.recipient,
            channel=message.channel,
            attempts=max(1, attempts),
            error=error[:300],
        )
        reason = f"{message.recipient}/{message.channel}: {error}"
        letter = dead_letter(decision, reason, incoming.source_topic)
        NOTIFICATIONS.labels(message.recipient, message.channel, "failed").inc()
        log.error(
            "notification failed",
            recipient=message.recipient,
            channel=message.channel,
            error=error[:300],
            referral_id=str(decision.referral_id),
        )
        key = str(decision.referral_id)
        return Ending(
            task.row.notification_id,
            "failed",
            error=error[:300],
            events=((failed, key, None), (letter, key, topics.NOTIFICATION_DLQ)),
        )


def _key(incoming: Incoming, message: Message) -> store.Key:
    return (incoming.decision.event_id, message.recipient, message.channel)


def dead_letter(decision: ReferralDecided, reason: str, source_topic: str) -> DeadLetter:
    """The decision itself (no patient details on it), kept for `dlq replay` after a fix."""
    return DeadLetter(
        correlation_id=decision.correlation_id,
        source_topic=source_topic,
        source_partition=-1,
        source_offset=-1,
        reason=reason[:500],
        original_base64=base64.b64encode(decision.model_dump_json().encode()).decode(),
    )
