"""What a message leaves behind when it ends: its row's state and its event (through the
outbox), and for a failure a dead letter holding the decision for `dlq replay`."""

from __future__ import annotations

import base64
from typing import Any

from notifier.metrics import NOTIFICATIONS
from notifier.ports import Ending
from notifier.service_layer.work import Task, Told
from shared import topics
from shared.contracts import DeadLetter, NotificationFailed, NotificationSent
from shared.logging import get_logger

log = get_logger(__name__)
RECEIPTED = ("sms", "email")  # Notify reports their delivery; a letter's it does not


def _about(task: Task) -> dict[str, Any]:
    """What every notification event says of its message: which decision, to whom, how."""
    decision, message = task.incoming.event, task.message
    return {
        "correlation_id": decision.correlation_id,
        "decision_event_id": decision.event_id,
        "referral_id": decision.referral_id,
        "recipient": message.recipient,
        "channel": message.channel,
    }


def sent(task: Task, provider_id: str) -> Ending:
    decision, message = task.incoming.event, task.message
    event = NotificationSent(**_about(task), provider_reference=provider_id)
    NOTIFICATIONS.labels(message.recipient, message.channel, "sent").inc()
    log.info(
        "notification sent",
        recipient=message.recipient,
        channel=message.channel,
        referral_id=str(decision.referral_id),
    )
    awaits = message.recipient == "patient" and message.channel in RECEIPTED
    return Ending(
        task.row.notification_id,
        "sent",
        provider_id=provider_id,
        events=((event, str(decision.referral_id), None),),
        awaits_receipt=(decision.model_dump_json(), task.incoming.source_topic) if awaits else None,
    )


def failed(task: Task, error: str, attempts: int) -> Ending:
    incoming, message = task.incoming, task.message
    decision = incoming.event
    event = NotificationFailed(**_about(task), attempts=max(1, attempts), error=error[:300])
    reason = f"{message.recipient}/{message.channel}: {error}"
    letter = dead_letter(decision, reason, incoming.source_topic)
    NOTIFICATIONS.labels(message.recipient, message.channel, "failed").inc()
    log.error(
        "notification failed",
        recipient=message.recipient,
        channel=message.channel,
        error=error[:300],
        referral_id=str(decision.referral_id),
    )
    key = str(decision.referral_id)
    return Ending(
        task.row.notification_id,
        "failed",
        error=error[:300],
        events=((event, key, None), (letter, key, topics.NOTIFICATION_DLQ)),
    )


def dead_letter(decision: Told, reason: str, source_topic: str) -> DeadLetter:
    """The event itself (no patient details on it), kept for `dlq replay` after a fix."""
    return DeadLetter(
        correlation_id=decision.correlation_id,
        source_topic=source_topic,
        source_partition=-1,
        source_offset=-1,
        reason=reason[:500],
        original_base64=base64.b64encode(decision.model_dump_json().encode()).decode(),
    )
