"""Tell everyone a decision concerns, each message exactly once in practice.

Each message is a row keyed by (decision event, recipient, channel). The row is claimed
before the provider is called. A row found still 'sending' (the process died mid-send) is
reconciled with the provider by its reference before anything is sent again. Transient
failures are retried with exponential backoff and jitter up to a limit; permanent ones are
not. The end of each row and its event (notifications.sent / .failed, and a dead letter) are
written in one transaction; the outbox relay publishes them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from uuid import UUID

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from notifier.adapters import notification_store as store
from notifier.adapters.failures import PermanentFailure, TransientFailure
from notifier.adapters.intake_client import IntakeClient
from notifier.adapters.notify_provider import NotifyProvider
from notifier.adapters.smtp_provider import SmtpProvider
from notifier.adapters.webhook_provider import WebhookProvider
from notifier.domain.plan import Channel, Message, Unreachable, plan
from notifier.domain.templates import Templates
from shared import topics
from shared.contracts import (
    DeadLetter,
    Event,
    NotificationFailed,
    NotificationSent,
    ReferralDecided,
)
from shared.database import Database
from shared.db import Connection
from shared.directory import Directory
from shared.logging import get_logger
from shared.metrics import NOTIFICATIONS
from shared.topics import Topic

log = get_logger(__name__)


@dataclass(frozen=True)
class Retry:
    attempts: int
    initial: float
    maximum: float


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

    async def handle(self, decision: ReferralDecided, source_topic: str) -> None:
        """Everything this decision calls for; safe to call again for the same decision."""
        async with self.database.pool.acquire() as conn:
            done = await conn.fetchval(
                "SELECT true FROM inbox WHERE event_id = $1", decision.event_id
            )
        if done:
            log.info("decision already notified", referral_id=str(decision.referral_id))
            return
        contact = await self.intake.contact(decision.referral_id)
        messages, missed = plan(
            decision, contact, self.directory, self.templates, self._link(decision)
        )
        for message in messages:
            await self._deliver(decision, message, source_topic)
        for unreachable in missed:
            await self._unreachable(decision, unreachable, source_topic)
        async with self.database.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO inbox (event_id, topic) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                decision.event_id,
                source_topic,
            )

    def _link(self, decision: ReferralDecided) -> str:
        return f"{self.referral_link_base.rstrip('/')}/v1/referrals/{decision.referral_id}"

    async def _deliver(
        self, decision: ReferralDecided, message: Message, source_topic: str
    ) -> None:
        where = {"recipient": message.recipient, "channel": message.channel}
        async with self.database.pool.acquire() as conn:
            row = await store.ensure(
                conn, decision.event_id, decision.referral_id, message.recipient, message.channel
            )
            if row.status in ("sent", "delivered", "failed"):
                log.info("notification already handled", status=row.status, **where)
                return
            reference = str(row.notification_id)
            if row.status == "sending":
                provider_id = await self._already_sent(message, reference)
                if provider_id is not None:
                    log.warning("notification found at the provider after a restart", **where)
                    await self._sent(conn, decision, message, row.notification_id, provider_id)
                    return
            await store.claim(conn, row.notification_id)
        try:
            provider_id = await self._send_with_retries(decision, message, reference)
        except (PermanentFailure, TransientFailure) as error:
            async with self.database.pool.acquire() as conn:
                await self._failed(
                    source_topic,
                    conn,
                    decision,
                    message,
                    row.notification_id,
                    str(error),
                    row.attempts + self.retry.attempts,
                )
            return
        async with self.database.pool.acquire() as conn:
            await self._sent(conn, decision, message, row.notification_id, provider_id)

    async def _already_sent(self, message: Message, reference: str) -> str | None:
        if message.channel in ("sms", "email") and message.recipient == "patient":
            return await self.notify.find(reference)
        return None  # webhooks carry X-Delivery-Id, emails a Message-ID: receivers dedupe

    async def _send_with_retries(
        self, decision: ReferralDecided, message: Message, reference: str
    ) -> str:
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
                return await self._send_once(decision, message, reference)
        raise AssertionError("unreachable")  # AsyncRetrying returns or raises

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

    async def _sent(
        self,
        conn: Connection,
        decision: ReferralDecided,
        message: Message,
        notification_id: UUID,
        provider_id: str,
    ) -> None:
        event = NotificationSent(
            correlation_id=decision.correlation_id,
            decision_event_id=decision.event_id,
            referral_id=decision.referral_id,
            recipient=message.recipient,
            channel=message.channel,
            provider_reference=provider_id,
        )
        await store.finish(
            conn,
            notification_id,
            status="sent",
            provider_id=provider_id,
            events=((event, str(decision.referral_id), None),),
        )
        NOTIFICATIONS.labels(message.recipient, message.channel, "sent").inc()
        log.info(
            "notification sent",
            recipient=message.recipient,
            channel=message.channel,
            referral_id=str(decision.referral_id),
        )

    async def _failed(
        self,
        source_topic: str,
        conn: Connection,
        decision: ReferralDecided,
        message: Message,
        notification_id: UUID,
        error: str,
        attempts: int,
    ) -> None:
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
        events: list[tuple[Event, str, Topic | None]] = [
            (failed, str(decision.referral_id), None),
            (
                dead_letter(decision, reason, source_topic),
                str(decision.referral_id),
                topics.NOTIFICATION_DLQ,
            ),
        ]
        await store.finish(
            conn, notification_id, status="failed", error=error[:300], events=tuple(events)
        )
        NOTIFICATIONS.labels(message.recipient, message.channel, "failed").inc()
        log.error(
            "notification failed",
            recipient=message.recipient,
            channel=message.channel,
            error=error[:300],
            referral_id=str(decision.referral_id),
        )

    async def _unreachable(
        self, decision: ReferralDecided, missed: Unreachable, source_topic: str
    ) -> None:
        channel: Channel = "letter" if missed.recipient == "patient" else "email"
        message = Message(missed.recipient, channel, "", None, "")
        async with self.database.pool.acquire() as conn:
            row = await store.ensure(
                conn, decision.event_id, decision.referral_id, missed.recipient, channel
            )
            if row.status == "pending":
                await self._failed(
                    source_topic, conn, decision, message, row.notification_id, str(missed), 1
                )


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
