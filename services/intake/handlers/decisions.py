"""Consume the router's decisions so that `GET /v1/referrals/{id}` shows the outcome."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from faststream.kafka import KafkaRouter
from faststream.kafka.fastapi import KafkaMessage
from pydantic import ValidationError

from intake.adapters import referral_store
from intake.settings import IntakeSettings
from shared import topics
from shared.contracts import ReferralDecided
from shared.database import Database
from shared.kafka import SUBSCRIBER_DEFAULTS, batch_records
from shared.logging import get_logger

log = get_logger(__name__)

BATCH_SIZE = 500
DECISION_TOPICS = (topics.REFERRAL_ROUTED, topics.REFERRAL_REJECTED, topics.REFERRAL_TRIAGE)


def decisions_router(settings: IntakeSettings, database: Database) -> KafkaRouter:
    router = KafkaRouter()
    names = [t.qualified(settings.kafka_topic_prefix) for t in DECISION_TOPICS]

    @router.subscriber(
        *names,
        group_id=f"{settings.consumer_group}-status",
        description="Routing decisions, kept as each referral's status.",
        batch=True,
        max_records=BATCH_SIZE,
        **SUBSCRIBER_DEFAULTS,
    )
    async def on_decisions(message: KafkaMessage) -> None:
        latest: dict[UUID, ReferralDecided] = {}
        for record in batch_records(message):
            try:
                decision = ReferralDecided.model_validate_json(record.value or b"")
            except ValidationError as error:
                # Status is a view of the router's record: an unreadable decision is skipped
                # (the router keeps it), never allowed to stall the partition.
                log.error("decision unreadable, skipped", errors=error.error_count())
                continue
            earlier = latest.get(decision.referral_id)
            if earlier is None or earlier.occurred_at < decision.occurred_at:
                latest[decision.referral_id] = decision
        async with database.pool.acquire() as conn:
            changed = await referral_store.record_decisions(
                conn,
                [
                    (d.referral_id, d.outcome.value, _summary(d), d.occurred_at)
                    for d in latest.values()
                ],
            )
        for decision in latest.values():
            log.info(
                "decision recorded"
                if decision.referral_id in changed
                else "decision already recorded or older",
                referral_id=str(decision.referral_id),
                outcome=decision.outcome.value,
            )

    return router


def _summary(decision: ReferralDecided) -> dict[str, Any]:
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
    return summary
