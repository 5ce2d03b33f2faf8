"""Consume `referrals.self-referral`: open, validate and store each event once.

An event that cannot be accepted goes to the dead-letter topic with the reason and its
original bytes, and the partition moves on; nothing is dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeAlias

from faststream.kafka import KafkaMessage, KafkaRouter

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
from shared.contracts import DeadLetter, ReferralReceived, SelfReferralSubmitted
from shared.kafka import (
    SUBSCRIBER_DEFAULTS,
    DeadLetters,
    ReadBatch,
    document_outbox_events,
    read_batch,
    typed_batch,
)
from shared.logging import get_logger
from shared.poison import Backoff, isolate, why
from shared.sealed import public_key_of

log = get_logger(__name__)
# Up to this many events share one transaction and one offset commit.
BATCH_SIZE = 500
Pending: TypeAlias = tuple[AcceptedReferral, uuid.UUID]  # a referral and its event's id


def self_referral_router(settings: IntakeSettings, unit_of_work: UnitOfWork) -> KafkaRouter:
    router = KafkaRouter()
    document_outbox_events(router, settings.kafka_topic_prefix, (ReferralReceived,))
    prefix = settings.kafka_topic_prefix
    source_topic = topics.SELF_REFERRAL_SUBMITTED.qualified(prefix)
    private_key = settings.private_key.get_secret_value()
    # Bytes that were not a proper envelope may hold patient details in clear: they are
    # sealed to intake's own key, so the dead-letter topic stays safe to watch.
    dead_letters = DeadLetters(
        router.publisher(topics.SELF_REFERRAL_DLQ.qualified(prefix), schema=DeadLetter),
        seal_to=public_key_of(private_key),
        source="self-referral",
    )

    backoff = Backoff("self-referral")

    @router.subscriber(
        source_topic,
        group_id=settings.consumer_group,
        description="Self-referral submissions (SelfReferralSubmitted), sealed to intake's key.",
        batch=True,
        max_records=BATCH_SIZE,
        decoder=typed_batch(SelfReferralSubmitted, "a SelfReferralSubmitted event"),
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_self_referrals(events: list[SelfReferralSubmitted], message: KafkaMessage) -> None:
        async with backoff.guard():
            await handle(read_batch(message))

    async def handle(batch: ReadBatch[SelfReferralSubmitted]) -> None:
        for record, reason in batch.unreadable:  # not an envelope: may hold details in clear
            await dead_letters.send(record, reason, readable=False)
        accepted: list[Pending] = []
        record_of: dict[uuid.UUID, Any] = {}
        for event, record in batch.events:
            try:
                submission = open_submission(event, private_key, today())
                pending = (
                    accept_self_referral(
                        submission,
                        source=event.source,
                        correlation_id=event.correlation_id,
                        today=today(),
                        referral_id=event.referral_id,
                        tracking_reference=event.tracking_reference,
                    ),
                    event.event_id,
                )
            except Unreadable as error:
                await dead_letters.send(record, error.reason, readable=error.envelope_ok)
            except (NotASelfReferral, BadReference) as error:
                await dead_letters.send(record, str(error), readable=True)
            except Exception as error:  # a well-formed event no later step can accept
                await dead_letters.send(record, why(error), readable=True)
            else:
                accepted.append(pending)
                record_of[event.event_id] = record

        async def store(batch: Sequence[Pending]) -> list[Pending]:
            return await service_layer.store_self_referrals(
                unit_of_work, list(batch), topic=source_topic
            )

        async def poison(item: Pending, error: BaseException) -> None:
            await dead_letters.send(record_of[item[1]], why(error), readable=True)

        for _accepted, event_id in await isolate(accepted, store, poison):
            reason = "the referral id or tracking reference is already in use"
            await dead_letters.send(record_of[event_id], reason, readable=True)

    return router
