"""Consume what the people a referral concerns are told of: routing's decisions (three topics),
the steps after them (`referrals.lifecycle`), the promises broken (`referrals.overdue`) and
the appointments near (`referrals.reminders`), in one consumer group."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from notifier.service_layer import Incoming, Notifier
from notifier.service_layer.work import Told, ToldPayload
from notifier.settings import NotifierSettings
from shared import topics
from shared.consumer import Batch, Rejected, subscribe
from shared.contracts import (
    DeadLetter,
    NotificationFailed,
    NotificationSent,
)
from shared.dead_letters import DeadLetters
from shared.kafka import document_outbox_events
from shared.logging import get_logger

log = get_logger(__name__)
# Smaller than other consumers' batches: each event may mean calls to providers.
BATCH_SIZE = 200
# Routing's decisions, and the steps after them: each may call for messages.
TOLD_TOPICS = (
    topics.REFERRAL_ROUTED,
    topics.REFERRAL_REJECTED,
    topics.REFERRAL_TRIAGE,
    topics.REFERRAL_LIFECYCLE,
    topics.REFERRAL_OVERDUE,
    topics.APPOINTMENT_REMINDER,
)


def told_router(settings: NotifierSettings, notifier: Notifier) -> KafkaRouter:
    router = KafkaRouter()
    document_outbox_events(
        router, settings.kafka_topic_prefix, (NotificationSent, NotificationFailed)
    )
    prefix = settings.kafka_topic_prefix

    async def tell(batch: Batch[Told]) -> list[Rejected[Told]]:
        if batch.replayed:  # an operator's replay of a dead letter: try its failures again
            reopened = await notifier.store.reopen_failed(sorted(batch.replayed))
            log.info("replayed events reopened", events=len(batch.replayed), messages=reopened)
        unknown = await notifier.handle_batch([Incoming(e, batch.topic(e)) for e in batch.events])
        return [Rejected(incoming.event, reason) for incoming, reason in unknown]

    subscribe(
        router,
        *[t.qualified(prefix) for t in TOLD_TOPICS],
        payload=ToldPayload,
        what="a decision, lifecycle, overdue or reminder event",
        group_id=settings.consumer_group,
        description="Routing decisions (ReferralDecided), later steps (accepted, booked, "
        "discharged, ...), broken promises (ReferralOverdue) and appointments near "
        "(AppointmentReminder): who is told what, on which channel.",
        dead_letters=DeadLetters(
            router.publisher(topics.NOTIFICATION_DLQ.qualified(prefix), schema=DeadLetter),
            seal_to=settings.dead_letter_public_key,
            source="told",
        ),
        work=tell,
        name="told",
        batch_size=BATCH_SIZE,
    )
    return router
