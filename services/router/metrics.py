"""The router's own counters (served at /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter

ROUTING_DECISIONS = Counter(
    "routing_decisions_total",
    "Decisions the router recorded.",
    ["service", "outcome", "decided_by"],
)
