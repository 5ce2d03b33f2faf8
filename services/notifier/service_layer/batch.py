"""A batch of told events (routing's decisions and the steps after them), end to end: who
is told what, claimed, sent, and ended once.

Each message is a row keyed by (the event, recipient, channel). Rows are claimed before
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from notifier.adapters.failures import PermanentFailure, TransientFailure
from notifier.domain.plan import (
    Message,
    Unreachable,
    plan,
    plan_overdue,
    plan_reminder,
    plan_step,
)
from notifier.domain.templates import Templates
from notifier.ports import (
    Budget,
    ClinicWebhooks,
    ContactSource,
    Ending,
    Notifications,
    PatientMessages,
    ReferrerEmail,
    ReferrerSystems,
)
from notifier.service_layer import endings
from notifier.service_layer.claims import Leases
from notifier.service_layer.sending import Sender
from notifier.service_layer.work import Incoming, Retry, Task, Told
from shared import tracing
from shared.bars_mapping import OwnSystems
from shared.contracts import (
    AppointmentReminder,
    Channel,
    PatientContact,
    ReferralDecided,
    ReferralOverdue,
    ReferralState,
)
from shared.directory import Directory
from shared.logging import correlation, get_logger

log = get_logger(__name__)


@dataclass
class Notifier:
    store: Notifications
    intake: ContactSource
    notify: PatientMessages
    webhook: ClinicWebhooks
    smtp: ReferrerEmail
    directory: Directory
    templates: Templates
    referral_link_base: str
    retry: Retry
    concurrency: int = 64  # referrals whose messages are in flight at once
    lease_seconds: float = 30.0  # see `claims`: what a lease guards, and what it costs
    owner: UUID = field(default_factory=uuid4)  # this process, as a lease holder
    budget: Budget | None = None  # Notify's limits; None: unpaced
    systems: ReferrerSystems | None = None  # BaRS senders' own endpoints
    bars: OwnSystems | None = None

    def __post_init__(self) -> None:
        self.leases = Leases(self.store, self.owner, self.lease_seconds)
        self.sender = Sender(
            self.notify,
            self.webhook,
            self.smtp,
            self.leases,
            self.retry,
            self._link,
            self.budget,
            self.systems,
            self.bars,
        )

    async def handle_batch(self, batch: Sequence[Incoming]) -> list[tuple[Incoming, str]]:
        """Everything these events call for; safe to call again with the same events.

        Returns the events whose referral intake does not know, with why (for the
        dead-letter topic). Raises if intake is unreachable (then nothing is sent) or if a
        send broke unexpectedly (what ended is recorded first; the batch may come again)."""
        done = await self.store.already_handled([i.event.event_id for i in batch])
        fresh = [i for i in batch if i.event.event_id not in done]
        if len(fresh) < len(batch):
            log.info("events already notified", count=len(batch) - len(fresh))
        # Only the contacts still needed are read (each read is logged by intake).
        referral_ids = list(dict.fromkeys(i.event.referral_id for i in fresh))
        contacts, why_missing = await self.intake.contacts(referral_ids)
        known = [i for i in fresh if i.event.referral_id in contacts]
        tasks = await self.leases.claim(
            self._plan(
                [(i, contacts[i.event.referral_id]) for i in known if _still_news(i, contacts)]
            )
        )

        ended, failures = await self._end_all(tasks)
        self.leases.release([t.row.notification_id for t in tasks])
        handled = [
            (i.event.event_id, i.source_topic) for i in known if i.event.referral_id not in failures
        ]
        await self.store.finish(ended, handled, owner=self.owner)
        if failures:
            raise next(iter(failures.values()))  # the batch comes again; what ended is kept
        return [(i, why_missing) for i in fresh if i.event.referral_id not in contacts]

    def _plan(
        self, known: list[tuple[Incoming, PatientContact]]
    ) -> list[tuple[Incoming, Message, str | None]]:
        """Every message the decisions call for, with why it cannot be sent (None if it can)."""
        wanted: list[tuple[Incoming, Message, str | None]] = []
        for incoming, contact in known:
            messages, missed = self.messages_for(incoming.event, contact)
            wanted += [(incoming, m, None) for m in messages]
            for missing in missed:
                channel: Channel = "letter" if missing.recipient == "patient" else "email"
                message = Message(missing.recipient, channel, "", None, "")
                wanted.append((incoming, message, str(missing)))
        return wanted

    def messages_for(
        self, event: Told, contact: PatientContact
    ) -> tuple[list[Message], list[Unreachable]]:
        """Who is told of this event, in which words, on which channel."""
        link = self._link(event)
        if isinstance(event, ReferralDecided):
            return plan(event, contact, self.directory, self.templates, link)
        if isinstance(event, ReferralOverdue):
            return plan_overdue(event, contact, self.directory, self.templates, link)
        if isinstance(event, AppointmentReminder):
            return plan_reminder(event, contact, self.directory, self.templates, link)
        return plan_step(event, contact, self.directory, self.templates, link)

    async def send_planned(self, wanted: Sequence[tuple[Incoming, Message, str | None]]) -> None:
        """Claim, send and end messages planned elsewhere (a fallback's), as a batch's are;
        safe to call again: a message already ended is not sent again."""
        tasks = await self.leases.claim(wanted)
        ended, failures = await self._end_all(tasks)
        self.leases.release([t.row.notification_id for t in tasks])
        await self.store.finish(ended, [], owner=self.owner)
        if failures:
            raise next(iter(failures.values()))

    async def _end_all(self, tasks: list[Task]) -> tuple[list[Ending], dict[UUID, BaseException]]:
        """End every task: referrals at once, each referral's events in order, an event's own
        messages at once. Returns the endings, and the referrals whose sending broke."""
        by_referral: dict[UUID, dict[UUID, list[Task]]] = {}
        for task in tasks:
            told = task.incoming.event
            of_referral = by_referral.setdefault(told.referral_id, {})
            of_referral.setdefault(told.event_id, []).append(task)
        limit = asyncio.Semaphore(self.concurrency)

        async def in_order(events: dict[UUID, list[Task]]) -> list[Ending]:
            async with limit:
                return [
                    ending
                    for of_event in events.values()
                    for ending in await asyncio.gather(*map(self._end, of_event))
                ]

        results = await asyncio.gather(*map(in_order, by_referral.values()), return_exceptions=True)
        ended: list[Ending] = []
        failures: dict[UUID, BaseException] = {}
        for referral_id, result in zip(by_referral, results, strict=True):
            if isinstance(result, BaseException):
                failures[referral_id] = result
            else:
                ended += result
        return ended, failures

    async def _end(self, task: Task) -> Ending:
        decision, message = task.incoming.event, task.message
        told = f"tell {message.recipient} by {message.channel}"  # its provider call goes under it
        trace = tracing.for_event(decision.correlation_id)
        with correlation(decision.correlation_id), tracing.continued(trace, told):
            if task.unreachable is not None:
                return endings.failed(task, task.unreachable, attempts=1)
            reference = str(task.row.notification_id)
            if task.row.status == "sending":  # a send may have happened: ask the provider first
                await self.leases.fence(task)
                provider_id = await self.sender.already_sent(message, reference)
                if provider_id is not None:
                    log.warning(
                        "notification found at the provider after a restart",
                        recipient=message.recipient,
                        channel=message.channel,
                    )
                    return endings.sent(task, provider_id)
            try:
                provider_id = await self.sender.send(task, reference)
            except (PermanentFailure, TransientFailure) as error:
                return endings.failed(task, str(error), task.row.attempts + self.retry.attempts)
            return endings.sent(task, provider_id)

    def _link(self, event: Told) -> str:
        return f"{self.referral_link_base.rstrip('/')}/v1/referrals/{event.referral_id}"


def _still_news(incoming: Incoming, contacts: dict[UUID, PatientContact]) -> bool:
    """A decision that reaches us after its referral was cancelled is told to nobody (it
    raced the cancellation across topics); it is still marked handled."""
    status = contacts[incoming.event.referral_id].status
    if isinstance(incoming.event, ReferralOverdue) and status != incoming.event.state:
        log.info(  # it moved on between the clock firing and now: nobody is late any more
            "overdue referral moved on, not told",
            referral_id=str(incoming.event.referral_id),
        )
        return False
    if isinstance(incoming.event, AppointmentReminder) and status != ReferralState.BOOKED:
        log.info(  # cancelled, missed or moved on since the clock fired: nothing to remind
            "appointment no longer booked, not reminded",
            referral_id=str(incoming.event.referral_id),
        )
        return False
    cancelled = status == ReferralState.CANCELLED
    if cancelled and isinstance(incoming.event, ReferralDecided):
        log.info(
            "decision on a cancelled referral, not told",
            referral_id=str(incoming.event.referral_id),
        )
        return False
    return True
