"""Consume the router's decisions so that `GET /v1/referrals/{id}` shows the outcome."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.fastapi import KafkaMessage
from pydantic import ValidationError

from intake.adapters import referral_store
from intake.settings import IntakeSettings
from shared import topics
from shared.contracts import ReferralDecided
from shared.database import Database
from shared.kafka import SUBSCRIBER_DEFAULTS
from shared.logging import get_logger

log = get_logger(__name__)

DECISION_TOPICS = (topics.REFERRAL_ROUTED, topics.REFERRAL_REJECTED, topics.REFERRAL_TRIAGE)


def decisions_router(settings: IntakeSettings, database: Database) -> KafkaRouter:
    router = KafkaRouter()
    names = [t.qualified(settings.kafka_topic_prefix) for t in DECISION_TOPICS]

    @router.subscriber(
        *names,
        group_id=f"{settings.consumer_group}-status",
        description="Routing decisions, kept as each referral's status.",
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_decision(message: KafkaMessage) -> None:
        try:
            decision = ReferralDecided.model_validate_json(message.body)
        except ValidationError as error:
            # Status is a view of the router's record: an unreadable decision is skipped
            # (the router keeps it), never allowed to stall the partition.
            log.error("decision unreadable, skipped", errors=error.error_count())
            return
        summary = decision.model_dump(
            mode="json",
            include={
                "outcome",
                "destination",
                "reasons",
                "signposting",
                "urgent",
                "rules_version",
                "decided_by",
            },
        )
        summary["decided_at"] = decision.occurred_at.isoformat()
        async with database.pool.acquire() as conn:
            changed = await referral_store.record_decision(
                conn, decision.referral_id, decision.outcome.value, summary, decision.occurred_at
            )
        log.info(
            "decision recorded" if changed else "decision already recorded or older",
            referral_id=str(decision.referral_id),
            outcome=decision.outcome.value,
        )

    return router
