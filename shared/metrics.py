"""Prometheus metrics: FastStream's own (messages received, processed, published, timings)
and the domain's counters, all in the process's default registry, served at `/metrics`."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter

REFERRALS_ACCEPTED = Counter(
    "referrals_accepted_total", "Referrals intake accepted and stored.", ["channel", "service"]
)
ROUTING_DECISIONS = Counter(
    "routing_decisions_total",
    "Decisions the router recorded.",
    ["service", "outcome", "decided_by"],
)
NOTIFICATIONS = Counter(
    "notifications_total", "Notifications finished, by outcome.", ["recipient", "channel", "status"]
)
DEAD_LETTERS = Counter(
    "dead_letters_total", "Messages a consumer sent to a dead-letter topic.", ["source"]
)
NOTIFICATIONS_RATE_LIMITED = Counter(
    "notifications_rate_limited_total",
    "Provider answers of 429 (slow down): waited for and sent again, never counted as failures.",
    ["channel"],
)
NOTIFICATIONS_HELD = Counter(
    "notifications_held_total",
    "Times a message waited for the provider's budget: per-minute pacing, or held until "
    "the next day when the day's limit is used up.",
    ["channel", "reason"],
)
OUTBOX_PARKED = Counter(
    "outbox_parked_total", "Outbox events the broker refused for good, set aside with a reason."
)

__all__ = [
    "DEAD_LETTERS",
    "NOTIFICATIONS",
    "NOTIFICATIONS_HELD",
    "NOTIFICATIONS_RATE_LIMITED",
    "OUTBOX_PARKED",
    "REFERRALS_ACCEPTED",
    "REGISTRY",
    "ROUTING_DECISIONS",
]
