"""Consume the router's decisions so that `GET /v1/referrals/{id}` shows the outcome.

A decision that cannot be read or kept goes to `referrals.status.dlq` with the reason."""

from __future__ import annotations

from uuid import UUID

from faststream.kafka import KafkaMessage, KafkaRouter

from intake import service_layer
from intake.ports import UnitOfWork
from intake.settings import IntakeSettings
from shared import topics
from shared.contracts import DeadLetter, ReferralDecided
from shared.kafka import SUBSCRIBER_DEFAULTS, DeadLetters, ReadBatch, read_batch, typed_batch
from shared.logging import get_logger
from shared.poison import Backoff
from shared.sealed import public_key_of

log = get_logger(__name__)

BATCH_SIZE = 500
DECISION_TOPICS = (topics.REFERRAL_ROUTED, topics.REFERRAL_REJECTED, topics.REFERRAL_TRIAGE)


def decisions_router(settings: IntakeSettings, unit_of_work: UnitOfWork) -> KafkaRouter:
    router = KafkaRouter()
    names = [t.qualified(settings.kafka_topic_prefix) for t in DECISION_TOPICS]
    dead_letters = DeadLetters(
        router.publisher(
            topics.STATUS_DLQ.qualified(settings.kafka_topic_prefix), schema=DeadLetter
        ),
        seal_to=public_key_of(settings.private_key.get_secret_value()),
        source="status",
    )
    backoff = Backoff("status")

    @router.subscriber(
        *names,
        group_id=f"{settings.consumer_group}-status",
        description="Routing decisions, kept as each referral's status.",
        batch=True,
        max_records=BATCH_SIZE,
        decoder=typed_batch(ReferralDecided, "a decision"),
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_decisions(decisions: list[ReferralDecided], message: KafkaMessage) -> None:
        async with backoff.guard():
            await handle(read_batch(message))

    async def handle(read: ReadBatch[ReferralDecided]) -> None:
        unique = list({d.event_id: (d, record) for d, record in read.events}.values())

        async def keep(decisions: list[ReferralDecided]) -> list[UUID]:
            return list(await service_layer.record_decisions(unit_of_work, decisions))

        changed = set(await dead_letters.process(read, keep, unique))
        for decision, _record in unique:
            log.info(
                "decision recorded"
                if decision.referral_id in changed
                else "decision already recorded, passed over, or not ours",
                referral_id=str(decision.referral_id),
                outcome=decision.outcome.value,
            )

    return router
