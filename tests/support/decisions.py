"""A routing decision on a received referral, as the router announces it, made for a test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.contracts import Outcome, ReferralDecided, ReferralReceived, RoutingDecision

SITE = "pelvic-bsol"


def decided(
    received: ReferralReceived, outcome: Outcome, *, minutes: int = 0, by: str = "rules"
) -> ReferralDecided:
    """`outcome` for `received` (routed to SITE), `minutes` from now, by `by`."""
    destination = {"id": SITE, "name": "Birmingham"} if outcome == Outcome.ROUTED else None
    decision = RoutingDecision.model_validate(
        {
            "outcome": outcome,
            "service": received.service,
            "destination": destination,
            "reasons": [{"rule": "r.x", "message": "Why."}],
            "rules_version": "v1",
        }
    )
    event = ReferralDecided.announce(
        decision,
        referral_id=received.referral_id,
        tracking_reference=received.tracking_reference,
        received_event_id=received.event_id,
        correlation_id=received.correlation_id,
        decided_by=by,
    )
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    return event.model_copy(update={"occurred_at": at})
