"""Consume the router's decisions so that `GET /v1/referrals/{id}` shows the outcome.

A decision that cannot be read or kept goes to `referrals.status.dlq` with the reason."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from intake import service_layer
from intake.ports import UnitOfWork
from intake.settings import IntakeSettings
from shared import topics
from shared.consumer import Batch, Rejected, subscribe
from shared.contracts import DeadLetter, ReferralDecided
from shared.dead_letters import DeadLetters
from shared.directory import Directory
from shared.logging import get_logger
from shared.sealed import public_key_of

log = get_logger(__name__)

DECISION_TOPICS = (topics.REFERRAL_ROUTED, topics.REFERRAL_REJECTED, topics.REFERRAL_TRIAGE)


def decisions_router(
    settings: IntakeSettings, unit_of_work: UnitOfWork, directory: Directory
) -> KafkaRouter:
    router = KafkaRouter()
    prefix = settings.kafka_topic_prefix

    async def keep(batch: Batch[ReferralDecided]) -> list[Rejected[ReferralDecided]]:
        changed = await service_layer.record_decisions(unit_of_work, batch.events, directory)
        for decision in batch.events:
            log.info(
                "decision recorded"
                if decision.referral_id in changed
                else "decision already recorded, passed over, or not ours",
                referral_id=str(decision.referral_id),
                outcome=decision.outcome.value,
            )
        return []

    subscribe(
        router,
        *[t.qualified(prefix) for t in DECISION_TOPICS],
        payload=ReferralDecided,
        what="a decision",
        group_id=f"{settings.consumer_group}-status",
        description="Routing decisions, kept as each referral's status.",
        dead_letters=DeadLetters(
            router.publisher(topics.STATUS_DLQ.qualified(prefix), schema=DeadLetter),
            seal_to=public_key_of(settings.private_key.get_secret_value()),
            source="status",
        ),
        work=keep,
        name="decisions",
    )
    return router
