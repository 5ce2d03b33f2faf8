"""The notifier's own counters (served at /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter

NOTIFICATIONS = Counter(
    "notifications_total", "Notifications finished, by outcome.", ["recipient", "channel", "status"]
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
FALLBACKS = Counter(
    "notification_fallbacks_total",
    "Messages to her not delivered (a failed receipt, or none in time), by the channel that "
    "failed and the one that followed ('none': no other way to reach her).",
    ["from_channel", "to_channel"],
)
