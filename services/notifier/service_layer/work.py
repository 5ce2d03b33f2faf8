"""What the notifier works on: a decision as it arrived, and one message of it with its row."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import TypeAdapter

from notifier.domain.plan import Message
from notifier.ports import Key, Row
from shared.contracts import (
    AppointmentReminder,
    LifecycleEvent,
    ReferralDecided,
    ReferralOverdue,
    ReferralTransitioned,
)


@dataclass(frozen=True)
class Retry:
    attempts: int
    initial: float
    maximum: float


# What calls for messages: decisions, later steps, broken promises, appointments near.
Told = ReferralDecided | ReferralTransitioned | ReferralOverdue | AppointmentReminder
# As it arrives on a topic, or was kept with a message (a fallback plans it again).
ToldPayload = ReferralDecided | LifecycleEvent | ReferralOverdue | AppointmentReminder
TOLD: TypeAdapter[ToldPayload] = TypeAdapter(ToldPayload)


@dataclass(frozen=True)
class Incoming:
    """A decision, or a later step of the referral's life, as it arrived (and from where)."""

    event: Told
    source_topic: str


@dataclass(frozen=True)
class Task:
    """One message of one decision, with its row; `unreachable` says why it cannot be sent."""

    incoming: Incoming
    message: Message
    row: Row
    unreachable: str | None = None


def key(incoming: Incoming, message: Message) -> Key:
    """A message's row: one per (decision event, recipient, channel)."""
    return (incoming.event.event_id, message.recipient, message.channel)
