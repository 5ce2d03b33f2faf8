"""Who is told of each step after routing, in which words, once (DOMAIN.md, "After routing")."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.samples import received_event
from notifier.domain.plan import plan_step
from notifier.domain.templates import load_templates, sensitive_in
from notifier.service_layer import Incoming
from shared.contracts import (
    NotificationSent,
    PatientContact,
    ReferralAccepted,
    ReferralAmended,
    ReferralCancelled,
    ReferralReturned,
    ReferralState,
    ReferralTransitioned,
)
from shared.directory import load_directory
from tests.unit.notifier.test_service_layer import CONTACT, World, routed

DIRECTORY, TEMPLATES = load_directory(), load_templates()
SITE = "pelvic-bsol"
LIFECYCLE = "referrals.lifecycle"


def step(kind: type[ReferralTransitioned], **fields: Any) -> ReferralTransitioned:
    received = received_event()
    values: dict[str, Any] = {
        "correlation_id": received.correlation_id,
        "referral_id": received.referral_id,
        "tracking_reference": received.tracking_reference,
        "service": received.service,
        "before": "routed",
        "after": "accepted",
        "by": "clinic",
        "site": SITE,
        **fields,
    }
    return kind(**values)


def told(event: ReferralTransitioned, contact: PatientContact = CONTACT) -> list[tuple[str, str]]:
    messages, missed = plan_step(event, contact, DIRECTORY, TEMPLATES, "https://intake/r")
    assert missed == []
    return [(m.recipient, m.channel) for m in messages]


SELF = CONTACT.model_copy(update={"referrer_role": "self", "referrer_email": None})
RETURN = {"reason_code": "wrong-service", "reason": "Not the right service."}
CANCEL = {"reason_code": "sent-in-error", "reason": "Sent in error.", "after": "cancelled"}


@pytest.mark.parametrize(
    ("event", "contact", "expected"),
    [
        (step(ReferralAccepted), CONTACT, [("patient", "sms")]),
        (step(ReferralReturned, to="referrer", after="returned", **RETURN), CONTACT,
         [("referrer", "email")]),
        (step(ReferralReturned, to="referrer", after="returned", **RETURN), SELF,
         [("patient", "sms")]),
        (step(ReferralReturned, to="triage", after="needs-triage", **RETURN), CONTACT, []),
        (step(ReferralCancelled, by="referrer", **CANCEL), CONTACT,
         [("clinic", "webhook"), ("referrer", "email")]),
        (step(ReferralCancelled, by="referrer", site=None, before="received", **CANCEL),
         CONTACT, [("referrer", "email")]),
        (step(ReferralCancelled, by="patient", **CANCEL), SELF,
         [("clinic", "webhook"), ("patient", "sms")]),
        (step(ReferralAmended, by="referrer", after="routed", reroute=False), CONTACT,
         [("clinic", "webhook")]),
        (step(ReferralAmended, by="referrer", before="needs-triage", after="needs-triage",
              site=None, reroute=False), CONTACT, []),
    ],
    ids=["accepted", "returned", "returned-self", "to-triage", "cancelled-held",
         "cancelled-not-held", "cancelled-by-her", "amended-held", "amended-not-held"],
)  # fmt: skip
def test_each_step_tells_the_people_it_concerns(
    event: ReferralTransitioned, contact: PatientContact, expected: list[tuple[str, str]]
) -> None:
    assert told(event, contact) == expected


def test_the_new_patient_texts_are_discreet_by_default() -> None:
    for news in ("accepted", "returned", "cancelled"):
        texts = TEMPLATES.patient[news]  # type: ignore[index]
        for text in (texts.sms.discreet, texts.email.subject.discreet):
            assert sensitive_in(text, TEMPLATES.sensitive_words) == []
    event = step(ReferralAccepted)
    (sms,), _ = plan_step(event, CONTACT, DIRECTORY, TEMPLATES, "https://intake/r")
    assert event.tracking_reference in sms.body
    assert "Jane" in sms.body


async def test_a_step_is_told_once_and_a_decision_after_a_cancellation_not_at_all() -> None:
    decision = routed()
    world = World(decision)
    accepted = step(ReferralAccepted, referral_id=decision.referral_id)
    batch = [Incoming(accepted, LIFECYCLE)]
    await world.notifier().handle_batch(batch)
    await world.notifier().handle_batch(batch)
    assert world.notify.calls == 1
    (sent,) = world.events(NotificationSent)
    assert (sent.decision_event_id, sent.recipient) == (accepted.event_id, "patient")  # type: ignore[attr-defined]

    cancelled = CONTACT.model_copy(update={"status": ReferralState.CANCELLED})
    world.contacts.known[decision.referral_id] = cancelled
    await world.notifier().handle_batch([Incoming(decision, "referrals.routed")])
    assert (world.notify.calls, world.webhook.calls) == (1, 0)
    assert decision.event_id in world.state.inbox  # handled: not asked again
