"""From a routing decision to the event published on the topic of its outcome."""

from __future__ import annotations

from uuid import UUID

from router.domain.rules import RoutingDecision
from shared.contracts import (
    Outcome,
    ReferralDecided,
    ReferralNeedsTriage,
    ReferralRejected,
    ReferralRouted,
)

EVENT_FOR_OUTCOME: dict[Outcome, type[ReferralDecided]] = {
    Outcome.ROUTED: ReferralRouted,
    Outcome.REJECTED: ReferralRejected,
    Outcome.NEEDS_TRIAGE: ReferralNeedsTriage,
}


def decision_event(
    decision: RoutingDecision,
    *,
    referral_id: UUID,
    tracking_reference: str,
    received_event_id: UUID,
    correlation_id: str,
    decided_by: str = "rules",
) -> ReferralDecided:
    event_type = EVENT_FOR_OUTCOME[decision.outcome]
    return event_type(
        outcome=decision.outcome,
        correlation_id=correlation_id,
        referral_id=referral_id,
        tracking_reference=tracking_reference,
        received_event_id=received_event_id,
        service=decision.service,
        destination=decision.destination,
        reasons=decision.reasons,
        signposting=decision.signposting,
        urgent=decision.urgent,
        rules_version=decision.rules_version,
        decided_by=decided_by,
    )
