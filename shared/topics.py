"""Every Kafka topic the system uses, declared once with the partitions it needs and how
long the broker keeps its records (`retention.ms`, applied by `devstack topics` and by the
chart): the one place topic retention is set.

Events a consumer has not read within `EVENTS` are lost to it, so a week leaves room for a
long weekend's outage; dead letters wait `DEAD_LETTERS` for an operator to read and replay
them. The inboxes that recognise a redelivered event keep its id longer than the longest of
these (`shared.retention`): a record cannot come again once the broker dropped it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

EVENTS = timedelta(days=7)  # our choice: a week, Kafka's own default, said explicitly
DEAD_LETTERS = timedelta(days=28)  # our choice: four weeks for a person to look at each


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str
    retention: timedelta = EVENTS

    def __str__(self) -> str:
        return self.name

    def qualified(self, prefix: str) -> str:
        """The name within a namespace (KAFKA_TOPIC_PREFIX; empty in production)."""
        return f"{prefix}{self.name}"


# Six partitions let up to six router or notifier processes share the load.
SELF_REFERRAL_SUBMITTED = Topic(
    "referrals.self-referral", 6, "Self-referral form submissions, ours and other organisations'."
)
SELF_REFERRAL_DLQ = Topic(
    "referrals.self-referral.dlq",
    1,
    "Self-referral events intake could not accept, with reason.",
    DEAD_LETTERS,
)
REFERRAL_RECEIVED = Topic(
    "referrals.received", 6, "Accepted referrals, reduced to what routing needs (no identifiers)."
)
REFERRAL_RECEIVED_DLQ = Topic(
    "referrals.received.dlq",
    1,
    "Events the router could not handle (received, lifecycle).",
    DEAD_LETTERS,
)
REFERRAL_ROUTED = Topic("referrals.routed", 6, "Routing decisions with a destination.")
REFERRAL_REJECTED = Topic(
    "referrals.rejected", 6, "Referrals returned to the referrer, with reasons."
)
REFERRAL_TRIAGE = Topic(
    "referrals.triage", 6, "Referrals the rules could not decide; a person will."
)
REFERRAL_LIFECYCLE = Topic(
    "referrals.lifecycle",
    6,
    "A referral's steps after routing: accepted, returned, cancelled, amended (by referral).",
)
TRIAGE_RESOLVED = Topic(
    "referrals.triage-resolved",
    6,
    "What a person at triage decided (a site, or a reason to return it), for the router to "
    "announce as the referral's decision.",
)
REFERRAL_OVERDUE = Topic(
    "referrals.overdue",
    6,
    "A promise a service made was broken: a referral still waiting when its clock ran out.",
)
APPOINTMENT_REMINDER = Topic(
    "referrals.reminders",
    6,
    "A booked appointment is near: remind her (none for one changed or cancelled since).",
)
STATUS_DLQ = Topic(
    "referrals.status.dlq",
    1,
    "Decisions intake could not keep as a referral's status.",
    DEAD_LETTERS,
)
NOTIFICATION_SENT = Topic("notifications.sent", 3, "Notifications delivered to a provider.")
NOTIFICATION_FAILED = Topic("notifications.failed", 3, "Notifications that finally failed.")
NOTIFICATION_DLQ = Topic(
    "notifications.dlq", 1, "Decisions the notifier could not handle, with reason.", DEAD_LETTERS
)

ALL_TOPICS: tuple[Topic, ...] = (
    SELF_REFERRAL_SUBMITTED,
    SELF_REFERRAL_DLQ,
    REFERRAL_RECEIVED,
    REFERRAL_RECEIVED_DLQ,
    REFERRAL_ROUTED,
    REFERRAL_REJECTED,
    REFERRAL_TRIAGE,
    REFERRAL_LIFECYCLE,
    TRIAGE_RESOLVED,
    REFERRAL_OVERDUE,
    APPOINTMENT_REMINDER,
    STATUS_DLQ,
    NOTIFICATION_SENT,
    NOTIFICATION_FAILED,
    NOTIFICATION_DLQ,
)


def longest_retention() -> timedelta:
    return max(t.retention for t in ALL_TOPICS)
