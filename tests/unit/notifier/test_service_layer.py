"""The notifier's batch over in-memory ports: each message reaches its provider once, across
retries, a provider that accepted and then failed, a process that died mid-send and another
that still holds a lease. The PostgreSQL and HTTP adapters are proven in
tests/integration/notifier."""

from __future__ import annotations

import time
import uuid

import pytest

from devstack.samples import received_event
from notifier.adapters.failures import PermanentFailure, TransientFailure
from notifier.domain.templates import load_templates
from notifier.service_layer import HeldElsewhere, Incoming, Notifier, Retry
from shared.contracts import (
    NotificationFailed,
    NotificationSent,
    PatientContact,
    ReferralDecided,
    RoutingDecision,
)
from shared.directory import load_directory
from tests.support.fakes import (
    FakeContacts,
    FakeProvider,
    InMemoryNotifications,
    NotificationRow,
    NotifierState,
)

DIRECTORY = load_directory()
ROUTED = "referrals.routed"


def routed() -> ReferralDecided:
    received = received_event()
    site = DIRECTORY.services[received.service].sites[0]
    decision = RoutingDecision.model_validate(
        {
            "outcome": "routed",
            "service": received.service,
            "destination": {"id": site.id, "name": site.name},
            "reasons": [{"rule": "pelvic-health.area-has-clinic", "message": "Served."}],
            "rules_version": DIRECTORY.rules_version,
        }
    )
    return ReferralDecided.announce(
        decision,
        referral_id=received.referral_id,
        tracking_reference=received.tracking_reference,
        received_event_id=received.event_id,
        correlation_id=received.correlation_id,
    )


CONTACT = PatientContact(
    given_name="Jane",
    email=None,
    mobile="07700900123",
    contact_preferences=("sms",),
    referrer_role="gp",
    referrer_email="gp@example.nhs.uk",
)


class World:
    """A notifier wired to fakes, and the fakes to look at."""

    def __init__(self, *decisions: ReferralDecided, state: NotifierState | None = None) -> None:
        self.state = state or NotifierState()
        self.notify, self.webhook, self.smtp = FakeProvider(), FakeProvider(), FakeProvider()
        self.contacts = FakeContacts({d.referral_id: CONTACT for d in decisions})

    def notifier(self) -> Notifier:
        return Notifier(
            store=InMemoryNotifications(self.state),
            intake=self.contacts,
            notify=self.notify,
            webhook=self.webhook,
            smtp=self.smtp,
            directory=DIRECTORY,
            templates=load_templates(),
            referral_link_base="https://intake.example",
            retry=Retry(attempts=3, initial=0.001, maximum=0.002),
        )

    def events(self, kind: type) -> list[object]:
        return [e for e in self.state.outbox if isinstance(e, kind)]


async def test_a_routed_decision_tells_the_patient_and_the_clinic_once() -> None:
    decision = routed()
    world = World(decision)
    batch = [Incoming(decision, ROUTED)]
    assert await world.notifier().handle_batch(batch) == []
    assert await world.notifier().handle_batch(batch) == []  # redelivered: nothing more

    assert [m.to for m in world.notify.accepted.values()] == ["07700900123"]
    assert [m.recipient for m in world.webhook.accepted.values()] == ["clinic"]
    assert (world.notify.calls, world.webhook.calls) == (1, 1)
    sent = world.events(NotificationSent)
    assert sorted((e.recipient, e.channel) for e in sent) == [  # type: ignore[attr-defined]
        ("clinic", "webhook"),
        ("patient", "sms"),
    ]
    assert world.state.inbox == {decision.event_id: ROUTED}
    assert "Jane" not in str(world.state.outbox)
    assert "07700900123" not in str(world.state.outbox)


async def test_a_referral_intake_does_not_know_is_handed_back_and_nothing_is_sent() -> None:
    decision = routed()
    world = World()  # intake knows no contact
    missing = await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    assert [(i.event.event_id, why) for i, why in missing] == [
        (decision.event_id, "unknown to intake")
    ]
    assert world.notify.calls == world.webhook.calls == 0
    assert world.state.inbox == {}


async def test_transient_failures_are_retried_and_one_after_accepting_is_not_resent() -> None:
    decision = routed()
    world = World(decision)
    world.notify.failures = [TransientFailure("503: busy")]
    world.notify.after_accepting = [TransientFailure("504: timed out after accepting")]
    await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    assert len(world.notify.accepted) == 1  # asked by reference, not sent twice
    assert world.notify.calls == 2
    assert sorted(e.channel for e in world.events(NotificationSent)) == ["sms", "webhook"]  # type: ignore[attr-defined]


async def test_transient_failures_stop_after_the_configured_attempts() -> None:
    decision = routed()
    world = World(decision)  # three attempts
    world.notify.failures = [TransientFailure("503: busy")] * 5
    await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    assert world.notify.calls == 3  # the first, made alone, counts as one of the three
    (failed,) = world.events(NotificationFailed)
    assert (failed.recipient, failed.channel) == ("patient", "sms")  # type: ignore[attr-defined]
    assert world.notify.failures  # the last two were never asked for


async def test_a_permanent_failure_ends_failed_with_an_event_and_a_dead_letter() -> None:
    decision = routed()
    world = World(decision)
    world.notify.failures = [PermanentFailure("400: not a mobile number")]
    await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    (failed,) = world.events(NotificationFailed)
    assert (failed.recipient, failed.channel) == ("patient", "sms")  # type: ignore[attr-defined]
    assert world.notify.calls == 1
    assert world.webhook.accepted  # the clinic is still told
    assert world.state.inbox == {decision.event_id: ROUTED}


async def test_a_send_cut_short_by_a_crash_is_found_at_the_provider_not_sent_again() -> None:
    decision = routed()
    world = World(decision)
    first = world.notifier()
    await first.handle_batch([Incoming(decision, ROUTED)])
    # Play the crash: the rows went back to 'sending' under a dead process's ended lease,
    # after the providers had the messages but before anything was recorded.
    dead = uuid.uuid4()
    for row in world.state.rows.values():
        row.status, row.lease_owner, row.lease_expires_at = "sending", dead, time.monotonic() - 1
    world.state.inbox.clear()
    world.state.outbox.clear()
    await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    assert world.notify.calls == 1  # the SMS was found by its reference
    assert len(world.events(NotificationSent)) == 2


async def test_a_message_another_process_holds_a_live_lease_on_is_left_to_it() -> None:
    decision = routed()
    world = World(decision)
    key = (decision.event_id, "patient", "sms")
    world.state.rows[key] = NotificationRow(
        uuid.uuid4(),
        decision.referral_id,
        status="sending",
        attempts=1,
        lease_owner=uuid.uuid4(),
        lease_expires_at=time.monotonic() + 30,
    )
    with pytest.raises(HeldElsewhere):
        await world.notifier().handle_batch([Incoming(decision, ROUTED)])
    assert world.notify.calls == 0
    assert world.state.inbox == {}
