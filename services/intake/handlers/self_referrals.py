"""Consume `referrals.self-referral`: open, validate and store each event once.

An event that cannot be accepted goes to the dead-letter topic with the reason and its
original bytes, and the partition moves on; nothing is dropped.
"""

from __future__ import annotations

import uuid

from faststream.kafka import KafkaRouter

from intake import service_layer
from intake.adapters.self_referral_codec import Unreadable, open_submission
from intake.domain.referral import (
    AcceptedReferral,
    BadReference,
    NotASelfReferral,
    accept_self_referral,
)
from intake.ports import UnitOfWork
from intake.settings import IntakeSettings
from shared import topics
from shared.clock import today
from shared.consumer import Batch, Rejected, subscribe
from shared.contracts import (
    AppointmentReminder,
    DeadLetter,
    LifecycleEvent,
    ReferralOverdue,
    ReferralReceived,
    SelfReferralSubmitted,
    TriageResolved,
)
from shared.dead_letters import DeadLetters
from shared.kafka import document_outbox_events
from shared.logging import get_logger
from shared.sealed import public_key_of

log = get_logger(__name__)


def self_referral_router(settings: IntakeSettings, unit_of_work: UnitOfWork) -> KafkaRouter:
    router = KafkaRouter()
    document_outbox_events(
        router,
        settings.kafka_topic_prefix,
        (
            ReferralReceived,
            TriageResolved,
            ReferralOverdue,
            AppointmentReminder,
        ),  # and a referral's steps, below: the same outbox
        unions=((topics.REFERRAL_LIFECYCLE, LifecycleEvent),),
    )
    prefix = settings.kafka_topic_prefix
    source_topic = topics.SELF_REFERRAL_SUBMITTED.qualified(prefix)
    private_key = settings.private_key.get_secret_value()

    def accepted(event: SelfReferralSubmitted) -> AcceptedReferral:
        return accept_self_referral(
            open_submission(event, private_key, today()),
            source=event.source,
            correlation_id=event.correlation_id,
            today=today(),
            referral_id=event.referral_id,
            tracking_reference=event.tracking_reference,
        )

    async def store(batch: Batch[SelfReferralSubmitted]) -> list[Rejected[SelfReferralSubmitted]]:
        rejected: list[Rejected[SelfReferralSubmitted]] = []
        opened: list[tuple[AcceptedReferral, uuid.UUID]] = []
        event_of: dict[uuid.UUID, SelfReferralSubmitted] = {}
        for event in batch.events:
            try:
                opened.append((accepted(event), event.event_id))
                event_of[event.event_id] = event
            except Unreadable as error:  # a broken seal may hold details in clear
                rejected.append(Rejected(event, error.reason, readable=error.envelope_ok))
            except (NotASelfReferral, BadReference) as error:
                rejected.append(Rejected(event, str(error)))
        taken = await service_layer.store_self_referrals(unit_of_work, opened, topic=source_topic)
        reason = "the referral id or tracking reference is already in use"
        return rejected + [Rejected(event_of[event_id], reason) for _, event_id in taken]

    subscribe(
        router,
        source_topic,
        payload=SelfReferralSubmitted,
        what="a SelfReferralSubmitted event",
        group_id=settings.consumer_group,
        description="Self-referral submissions (SelfReferralSubmitted), sealed to intake's key.",
        # Bytes that were not a proper envelope may hold patient details in clear: they are
        # sealed to intake's own key, so the dead-letter topic stays safe to watch.
        dead_letters=DeadLetters(
            router.publisher(topics.SELF_REFERRAL_DLQ.qualified(prefix), schema=DeadLetter),
            seal_to=public_key_of(private_key),
            source="self-referral",
        ),
        work=store,
        name="self_referrals",
    )
    return router
