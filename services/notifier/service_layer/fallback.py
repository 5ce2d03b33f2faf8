"""Channel fallback on delivery receipts (DOMAIN.md, "Silences"; as NHS Notify's routing
plans do): a message to her that Notify reports failed, or that no `delivered` receipt
followed within the wait, goes once more by her next preference she can be reached on
(email, then a letter where she gave an address), planned again from the event that called
for it. Each failed message records what followed it; the new one is a row of its own, sent
like any other (leased, reconciled, ended once) and awaiting its own receipt.

Safe with several notifiers: a message is taken for its fallback by one of them only (a
conditional update in the transaction that creates the new row), and a fallback row not yet
sent (its process died) is taken up again by the next pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from notifier.domain.plan import without_channels
from notifier.metrics import FALLBACKS
from notifier.ports import ContactSource, Fallbacks, Undelivered
from notifier.service_layer.batch import Notifier
from notifier.service_layer.claims import HeldElsewhere
from notifier.service_layer.work import TOLD, Incoming
from shared.logging import correlation, get_logger

log = get_logger(__name__)
BATCH = 200


@dataclass(frozen=True)
class Passed:
    fell_back: int  # failed messages given their fallback (or none left) by this pass
    sent: int  # fallback messages sent by this pass


async def fall_back_due(
    fallbacks: Fallbacks, notifier: Notifier, intake: ContactSource, now: datetime
) -> Passed:
    due = await fallbacks.undelivered(now, BATCH)
    contacts, _ = await intake.contacts({u.referral_id for u in due}) if due else ({}, "")
    followed: list[tuple[Undelivered, str | None, str]] = []
    for undelivered in due:
        contact = contacts.get(undelivered.referral_id)
        if contact is None:
            followed.append((undelivered, None, "intake no longer knows the referral"))
            continue
        event = TOLD.validate_python(undelivered.told)
        messages, _ = notifier.messages_for(event, without_channels(contact, undelivered.tried))
        mine = [m for m in messages if m.recipient == "patient"]
        followed.append(
            (undelivered, mine[0].channel, "") if mine else (undelivered, None, "no other way")
        )
    taken = set(await fallbacks.fall_back(followed, now))
    for undelivered, channel, why in followed:
        if undelivered.notification_id not in taken:
            continue
        event = TOLD.validate_python(undelivered.told)
        FALLBACKS.labels(undelivered.channel, channel or "none").inc()
        with correlation(event.correlation_id):
            log.warning(
                "message not delivered, falling back",
                referral_id=str(undelivered.referral_id),
                channel=undelivered.channel,
                receipt=undelivered.delivery_status or "none in time",
                then=channel or f"none: {why}",
            )
    return Passed(len(taken), await _send_open(fallbacks, notifier, intake))


async def _send_open(fallbacks: Fallbacks, notifier: Notifier, intake: ContactSource) -> int:
    """Send every fallback row not sent yet, by the channel it was made for."""
    pending = await fallbacks.open_fallbacks(BATCH)
    if not pending:
        return 0
    contacts, _ = await intake.contacts({p.referral_id for p in pending})
    wanted = []
    for row in pending:
        contact = contacts.get(row.referral_id)
        if contact is None:
            continue
        event = TOLD.validate_python(row.told)
        others = [c for c in row.tried if c != row.channel]
        messages, _ = notifier.messages_for(event, without_channels(contact, others))
        wanted += [
            (Incoming(event, row.told_topic), m, None)
            for m in messages
            if m.recipient == "patient" and m.channel == row.channel
        ]
    try:
        await notifier.send_planned(wanted)
    except HeldElsewhere:  # another notifier is sending them now
        log.info("fallback messages held by another notifier", count=len(wanted))
        return 0
    return len(wanted)
