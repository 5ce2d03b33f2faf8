"""One message to its provider: paced under Notify's limits, fenced by its lease, retried
with backoff on transient failures, and never sent again when the provider already has it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from notifier.adapters.failures import PermanentFailure, RateLimited, TransientFailure
from notifier.domain.plan import Message
from notifier.metrics import NOTIFICATIONS_RATE_LIMITED
from notifier.ports import Budget, ClinicWebhooks, PatientMessages, ReferrerEmail, ReferrerSystems
from notifier.service_layer.claims import Leases
from notifier.service_layer.work import Retry, Task, Told
from shared.bars import appointment_resource, response_message, service_request
from shared.bars_mapping import OwnSystems
from shared.contracts import (
    AppointmentReminder,
    ReferralBooked,
    ReferralOverdue,
    ReferralState,
    ReferralTransitioned,
)
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class Sender:
    notify: PatientMessages
    webhook: ClinicWebhooks
    smtp: ReferrerEmail
    leases: Leases
    retry: Retry
    link: Callable[[Told], str]  # the referral's page, for the clinic
    budget: Budget | None = None  # Notify's limits; None: unpaced
    systems: ReferrerSystems | None = None  # BaRS senders' own endpoints
    bars: OwnSystems | None = None  # the identifier systems our BaRS messages use

    async def already_sent(self, message: Message, reference: str) -> str | None:
        """The provider's id for a message it already has under our reference, if any."""
        if message.channel in ("sms", "email", "letter") and message.recipient == "patient":
            return await self.notify.find(reference)
        return None  # webhooks carry X-Delivery-Id, emails a Message-ID: receivers dedupe

    async def send(self, task: Task, reference: str) -> str:
        """The provider's id once it has the message; raises when it finally cannot."""
        # The first attempt goes without the retry machinery (building it for every message
        # was a twentieth of the notifier's CPU); a transient failure of it is handed to
        # tenacity as its attempt 1, so the attempts and their backoff are as they were.
        try:
            return await self._send_paced(task, reference)
        except TransientFailure as failure:
            first: TransientFailure | None = failure
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
                if first is not None:
                    failed, first = first, None
                    raise failed
                number = attempt.retry_state.attempt_number
                log.info("notification retry", attempt=number, channel=message.channel)
                # A 5xx or a timeout may come after the provider accepted the message:
                # ask it by reference before sending again.
                found = await self.already_sent(message, reference)
                if found is not None:
                    return found
                return await self._send_paced(task, reference)
        raise AssertionError("unreachable")  # AsyncRetrying returns or raises

    async def _send_paced(self, task: Task, reference: str) -> str:
        """One attempt. A provider that says "slow down" (429) is waited for and asked again,
        as often as it says so: that is pacing, not a failed attempt."""
        decision, message = task.incoming.event, task.message
        while True:
            if self.budget is not None and message.recipient == "patient":
                await self.budget.wait_turn(message.channel)  # through Notify
            await self.leases.fence(task)
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

    async def _send_once(self, event: Told, message: Message, reference: str) -> str:
        if message.channel == "webhook":
            return await self.webhook.send(message, reference, self._clinic_payload(event))
        if message.channel == "bars":
            if self.systems is None or self.bars is None:
                raise PermanentFailure("no BaRS sender is configured")
            bundle = self._bars_message(event, reference, self.bars)
            return await self.systems.send(message, reference, bundle, event.correlation_id)
        if message.recipient == "referrer":
            return await self.smtp.send(message, reference)
        return await self.notify.send(message, reference)

    def _clinic_payload(self, event: Told) -> dict[str, object]:
        """What a clinic receives: the reference and a link, never the patient's details."""
        if isinstance(event, ReferralOverdue):  # a promise broken: a reminder
            return {
                "event": "referral.overdue",
                "delivery_for": str(event.event_id),
                "referral_id": str(event.referral_id),
                "tracking_reference": event.tracking_reference,
                "service": event.service.value,
                "site": event.site,
                "status": event.state.value,
                "clock": event.clock,
                "due_at": event.due_at.isoformat(),
                "referral_url": self.link(event),
                "occurred_at": event.occurred_at.isoformat(),
            }
        if isinstance(event, ReferralTransitioned):  # a later step of one it received
            return {
                "event": f"referral.{event.transition}",
                "delivery_for": str(event.event_id),
                "referral_id": str(event.referral_id),
                "tracking_reference": event.tracking_reference,
                "service": event.service.value,
                "site": event.site,
                "status": event.after.value,
                "referral_url": self.link(event),
                "occurred_at": event.occurred_at.isoformat(),
            }
        if isinstance(event, AppointmentReminder):
            raise PermanentFailure("a reminder is hers alone: no clinic message")
        decision = event
        return {
            "event": "referral.routed",
            "delivery_for": str(decision.event_id),
            "referral_id": str(decision.referral_id),
            "tracking_reference": decision.tracking_reference,
            "service": decision.service.value,
            "destination": decision.destination.model_dump() if decision.destination else None,
            "urgent": decision.urgent,
            "referral_url": self.link(decision),
            "decided_at": decision.occurred_at.isoformat(),
        }

    def _bars_message(self, event: Told, reference: str, own: OwnSystems) -> dict[str, object]:
        """What a BaRS sender's system receives: its referral as a ServiceRequest, where it
        stands now and why, in a response message whose ids derive from the delivery (a
        resend is the same message). No patient detail: the sender has them."""
        if isinstance(event, ReferralTransitioned):
            state, site = event.after, event.site
            said = getattr(event, "reason", None) or getattr(event, "outcome", None)
            reasons = [said] if said else []
        elif isinstance(event, ReferralOverdue):
            state, site = event.state, event.site
            reasons = [f"Overdue: the service's promise ({event.clock}) ran out."]
        elif isinstance(event, AppointmentReminder):
            raise PermanentFailure("a reminder is hers alone: no BaRS message")
        else:
            state = ReferralState(event.outcome.value)
            site = event.destination.id if event.destination else None
            reasons = [r.message for r in event.reasons]
        request = service_request(
            own,
            referral_id=event.referral_id,
            tracking_reference=event.tracking_reference,
            state=state,
            service=event.service.value,
            destination=site,
            reasons=reasons,
        )
        booked = (
            appointment_resource(request, event.appointment, booked_by=event.site)
            if isinstance(event, ReferralBooked)
            else None
        )
        return response_message(
            own, name=f"news:{reference}", request=request, at=event.occurred_at,
            appointment=booked,
        )  # fmt: skip
