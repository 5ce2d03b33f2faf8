"""A BaRS sender hears back on its own `$process-message`: each decision and each later step
it did not take itself, once, as a valid FHIR message naming no patient; retried when its
endpoint stumbles, ended failed (and dead-lettered) when it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from notifier.adapters.failures import PermanentFailure, TransientFailure
from notifier.domain.plan import plan_step
from notifier.domain.templates import load_templates
from notifier.service_layer import Incoming, Notifier
from shared.bars_mapping import load_mapping
from shared.contracts import (
    NotificationFailed,
    NotificationSent,
    ReferralAccepted,
    ReferralAmended,
    ReferralBooked,
    ReferralCancelled,
    ReferralDischarged,
    ReferralReturned,
    ReferralTransitioned,
)
from tests.support.fakes import FakeProvider
from tests.unit.notifier.test_lifecycle_messages import (
    BOOKED,
    CANCEL,
    DISCHARGED,
    JOURNEY,
    RETURN,
    step,
)
from tests.unit.notifier.test_service_layer import CONTACT, DIRECTORY, ROUTED, World, routed

ENDPOINT = "https://gp-system.example/FHIR/R4/$process-message"
BARS_CONTACT = CONTACT.model_copy(update={"referrer_endpoint": ENDPOINT})
OWN = load_mapping().own


class BarsWorld(World):
    def __init__(self, *decisions: Any) -> None:
        super().__init__(*decisions)
        self.systems = FakeProvider()
        self.contacts.known = {d.referral_id: BARS_CONTACT for d in decisions}

    def notifier(self) -> Notifier:
        plain = super().notifier()
        return Notifier(
            **{
                name: getattr(plain, name)
                for name in ("store", "intake", "notify", "webhook", "smtp", "directory")
            },
            templates=plain.templates,
            referral_link_base=plain.referral_link_base,
            retry=plain.retry,
            systems=self.systems,
            bars=OWN,
        )


async def test_a_routed_bars_referral_is_told_to_its_senders_system_once() -> None:
    decision = routed()
    world = BarsWorld(decision)
    batch = [Incoming(decision, ROUTED)]
    await world.notifier().handle_batch(batch)
    await world.notifier().handle_batch(batch)  # redelivered: nothing more

    assert world.systems.calls == 1
    ((reference, (bundle, correlation)),) = world.systems.payloads.items()
    assert [m.to for m in world.systems.accepted.values()] == [ENDPOINT]
    assert correlation == decision.correlation_id
    message = Bundle.model_validate(bundle)
    header, request = (e.resource for e in message.entry)  # type: ignore[union-attr]
    assert header.eventCoding.code == "servicerequest-response"  # type: ignore[attr-defined]
    assert request.id == str(decision.referral_id)  # type: ignore[attr-defined]
    assert request.extension[0].valueCode == "routed"  # type: ignore[attr-defined]
    assert request.performer[0].identifier.value == decision.destination.id  # type: ignore[attr-defined,union-attr]
    assert request.note[0].text == "Served."  # type: ignore[attr-defined]
    text = str(bundle)
    assert "Jane" not in text
    assert "07700900123" not in text
    channels = sorted(e.channel for e in world.events(NotificationSent))  # type: ignore[attr-defined]
    assert channels == ["bars", "sms", "webhook"]
    assert reference  # the delivery's stable reference, also its X-Delivery-Id


async def test_a_resent_message_is_the_same_message() -> None:
    decision = routed()
    world = BarsWorld(decision)
    world.systems.after_accepting = [TransientFailure("504: after accepting")]
    await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    assert world.systems.calls == 2  # no way to ask it: sent again, under the same reference
    assert len(world.systems.accepted) == 1
    assert len(world.events(NotificationSent)) == 3


async def test_an_endpoint_that_refuses_ends_failed_with_its_event() -> None:
    decision = routed()
    world = BarsWorld(decision)
    world.systems.failures = [PermanentFailure("401: bad signature")]
    await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    (failed,) = world.events(NotificationFailed)
    assert (failed.channel, failed.recipient) == ("bars", "referrer")  # type: ignore[attr-defined]
    assert world.notify.calls == world.webhook.calls == 1  # the others still told


async def test_a_referral_without_an_endpoint_sends_no_bars_message() -> None:
    decision = routed()
    world = World(decision)  # the contact has no referrer_endpoint
    await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    channels = sorted(e.channel for e in world.events(NotificationSent))  # type: ignore[attr-defined]
    assert channels == ["sms", "webhook"]


@pytest.mark.parametrize(
    ("event", "told"),
    [
        (step(ReferralAccepted), True),
        (step(ReferralReturned, to="referrer", after="returned", **RETURN), True),
        (step(ReferralReturned, to="triage", after="needs-triage", **RETURN), True),
        (step(ReferralCancelled, by="patient", **CANCEL), True),
        (step(ReferralCancelled, by="referrer", **CANCEL), False),
        (step(ReferralAmended, by="referrer", after="routed", reroute=False), False),
    ],
    ids=["accepted", "returned", "to-triage", "cancelled-by-her", "cancelled-by-it", "amended"],
)
def test_each_step_it_did_not_take_is_told_to_the_senders_system(
    event: ReferralTransitioned, told: bool
) -> None:
    messages, _ = plan_step(event, BARS_CONTACT, DIRECTORY, load_templates(), "https://i/r")
    assert [(m.recipient, m.to) for m in messages if m.channel == "bars"] == (
        [("referrer", ENDPOINT)] if told else []
    )


@pytest.mark.parametrize(
    ("event", "told"), [(event, True) for event, contact, _ in JOURNEY if contact is CONTACT][:7]
)
def test_each_step_of_the_journey_reaches_the_senders_system(
    event: ReferralTransitioned, told: bool
) -> None:
    messages, _ = plan_step(event, BARS_CONTACT, DIRECTORY, load_templates(), "https://i/r")
    assert [(m.recipient, m.to) for m in messages if m.channel == "bars"] == [
        ("referrer", ENDPOINT)
    ]


async def test_a_booking_reaches_the_sender_as_a_valid_appointment_based_on_its_referral() -> None:
    decision = routed()
    world = BarsWorld(decision)
    booked = step(ReferralBooked, **BOOKED, referral_id=decision.referral_id)
    await world.notifier().handle_batch([Incoming(booked, "referrals.lifecycle")])
    ((_, (bundle, _)),) = world.systems.payloads.items()
    message = Bundle.model_validate(bundle)
    _, request, appointment = (e.resource for e in message.entry)  # type: ignore[union-attr]
    assert request.extension[0].valueCode == "booked"  # type: ignore[attr-defined]
    assert appointment.get_resource_type() == "Appointment"
    assert appointment.status == "booked"  # type: ignore[attr-defined]
    assert appointment.start == booked.appointment.starts_at  # type: ignore[attr-defined]
    assert appointment.basedOn[0].reference == f"urn:uuid:{decision.referral_id}"  # type: ignore[attr-defined]


async def test_a_discharge_reaches_the_sender_as_a_completed_referral_with_its_outcome() -> None:
    decision = routed()
    world = BarsWorld(decision)
    discharged = step(ReferralDischarged, **DISCHARGED, referral_id=decision.referral_id)
    await world.notifier().handle_batch([Incoming(discharged, "referrals.lifecycle")])
    ((_, (bundle, _)),) = world.systems.payloads.items()
    _, request = (e.resource for e in Bundle.model_validate(bundle).entry)  # type: ignore[union-attr]
    assert request.status == "completed"  # type: ignore[attr-defined]
    assert request.note[0].text == DISCHARGED["outcome"]  # type: ignore[attr-defined]
