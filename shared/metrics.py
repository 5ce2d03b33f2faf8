"""Prometheus metrics every service shares: FastStream's own (messages received, processed,
timings), events the outbox published, dead letters and parked outbox events, all in the
process's default registry, served at `/metrics`. Each service declares its own counters in
its `metrics.py`."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter

DEAD_LETTERS = Counter(
    "dead_letters_total", "Messages a consumer sent to a dead-letter topic.", ["source"]
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Events the outbox relay published, by topic.", ["topic"]
)
OUTBOX_PARKED = Counter(
    "outbox_parked_total", "Outbox events the broker refused for good, set aside with a reason."
)

__all__ = ["DEAD_LETTERS", "OUTBOX_PARKED", "OUTBOX_PUBLISHED", "REGISTRY"]
