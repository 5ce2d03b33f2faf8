"""Who is told of each step after routing, in which words, once (DOMAIN.md, "After routing")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.samples import received_event
from notifier.domain.plan import LONDON, plan_overdue, plan_reminder, plan_step, when_words
from notifier.domain.templates import load_templates, sensitive_in
from notifier.service_layer import Incoming
from shared.contracts import (
    Appointment,
    AppointmentReminder,
    NotificationSent,
    PatientContact,
    ReferralAccepted,
    ReferralAmended,
    ReferralAppointmentCancelled,
    ReferralAttended,
    ReferralBooked,
    ReferralCancelled,
    ReferralDidNotAttend,
    ReferralDischarged,
    ReferralNotContactable,
    ReferralOverdue,
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


def appointment(days: int = 9, mode: str = "in-person") -> Appointment:
    starts = datetime.now(UTC).replace(hour=10, minute=30, second=0, microsecond=0)
    return Appointment(
        starts_at=starts + timedelta(days=days),
        mode=mode,  # type: ignore[arg-type]
        place="Room 4, Women's Health Hub, Solihull Hospital",
    )


ATTEMPTS = (datetime.now(UTC) - timedelta(days=3), datetime.now(UTC) - timedelta(days=1))
BOOKED = {"before": "accepted", "after": "booked", "appointment": appointment()}
REBOOKED = {**BOOKED, "before": "booked"}
DISCHARGED = {
    "before": "attended",
    "after": "discharged",
    "outcome_code": "referred-on",
    "outcome": "She was referred on to another service for further care.",
    "referred_to": "Urogynaecology, Queen Elizabeth Hospital",
}
JOURNEY: list[tuple[ReferralTransitioned, PatientContact, list[tuple[str, str]]]] = [
    (step(ReferralBooked, **BOOKED), CONTACT, [("patient", "sms"), ("referrer", "email")]),
    (step(ReferralBooked, **BOOKED), SELF, [("patient", "sms")]),
    (step(ReferralBooked, **REBOOKED), CONTACT, [("patient", "sms")]),
    (step(ReferralAppointmentCancelled, before="booked", after="accepted"), CONTACT,
     [("patient", "sms")]),
    (step(ReferralAttended, before="booked", after="attended"), CONTACT, []),
    (step(ReferralDidNotAttend, before="booked", after="did-not-attend", may_rebook=True),
     CONTACT, [("patient", "sms"), ("referrer", "email")]),
    (step(ReferralNotContactable, before="accepted", after="not-contactable",
          attempts=ATTEMPTS), CONTACT, [("patient", "sms"), ("referrer", "email")]),
    (step(ReferralNotContactable, before="accepted", after="not-contactable",
          attempts=ATTEMPTS), SELF, [("patient", "sms")]),
    (step(ReferralDischarged, **DISCHARGED), CONTACT,
     [("patient", "sms"), ("referrer", "email")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "contact", "expected"),
    JOURNEY,
    ids=["booked", "booked-self", "rebooked", "appointment-cancelled", "attended",
         "did-not-attend", "not-contactable", "not-contactable-self", "discharged"],
)  # fmt: skip
def test_each_step_of_the_journey_tells_the_people_it_concerns(
    event: ReferralTransitioned, contact: PatientContact, expected: list[tuple[str, str]]
) -> None:
    assert told(event, contact) == expected


def test_her_appointment_says_when_how_and_where_and_the_sms_names_nothing_more() -> None:
    event = step(ReferralBooked, **BOOKED)
    by_email = CONTACT.model_copy(
        update={"contact_preferences": ("email",), "email": "jane@example.com"}
    )
    (email, _), _ = plan_step(
        event, by_email, DIRECTORY, TEMPLATES, "https://intake/v1/referrals/x"
    )
    local = event.appointment.starts_at.astimezone(LONDON)  # type: ignore[attr-defined]
    assert f"{local:%A} {local.day} {local:%B %Y} at" in email.body
    assert "in person" in email.body
    assert "Room 4, Women's Health Hub" in email.body
    assert DIRECTORY.journey.contact in email.body  # how to change it
    assert "https://intake/self-referral/check" in email.body
    (sms, _), _ = plan_step(event, CONTACT, DIRECTORY, TEMPLATES, "https://intake/v1/referrals/x")
    assert "Room 4" not in sms.body  # the place may name the service: not in a discreet SMS
    assert sensitive_in(sms.body, TEMPLATES.sensitive_words) == []


def test_the_referrer_hears_the_outcome_that_closes_the_loop() -> None:
    event = step(ReferralDischarged, **DISCHARGED)
    (_, email), _ = plan_step(event, CONTACT, DIRECTORY, TEMPLATES, "https://intake/r")
    assert email.recipient == "referrer"
    assert "referred on to another service" in email.body
    assert "Urogynaecology, Queen Elizabeth Hospital" in email.body
    missed = step(ReferralNotContactable, before="booked", after="not-contactable",
                  attempts=ATTEMPTS)  # fmt: skip
    (_, email), _ = plan_step(missed, CONTACT, DIRECTORY, TEMPLATES, "https://intake/r")
    assert ATTEMPTS[0].astimezone(LONDON).strftime("%-d %B %Y") in email.body


def test_every_discreet_journey_text_is_discreet() -> None:
    for news, texts in TEMPLATES.patient.items():
        for text in (texts.sms.discreet, texts.email.subject.discreet):
            assert sensitive_in(text, TEMPLATES.sensitive_words) == [], news
            assert "{appointment_where}" not in text, news


def about_a_referral() -> dict[str, Any]:
    """What a clock's event says of its referral (a fresh one each time)."""
    received = received_event()
    return {
        "correlation_id": received.correlation_id,
        "referral_id": received.referral_id,
        "tracking_reference": received.tracking_reference,
        "service": received.service,
        "site": SITE,
    }


def overdue(clock: str = "accept", *, tell_her: bool = True, **fields: Any) -> ReferralOverdue:
    values: dict[str, Any] = {
        **about_a_referral(),
        "clock": clock,
        "state": "routed",
        "due_at": datetime.now(UTC),
        "started_at": datetime.now(UTC) - timedelta(days=7),
        "tell_her": tell_her,
        **fields,
    }
    return ReferralOverdue(**values)


@pytest.mark.parametrize(
    ("event", "contact", "expected"),
    [
        (overdue(), CONTACT, [("clinic", "webhook"), ("patient", "sms"), ("referrer", "email")]),
        (overdue(tell_her=False), CONTACT, [("clinic", "webhook"), ("referrer", "email")]),
        (overdue(), SELF, [("clinic", "webhook"), ("patient", "sms")]),
        (overdue("triage", site=None, state="needs-triage"), CONTACT,
         [("patient", "sms"), ("referrer", "email")]),
    ],
    ids=["accept", "told-lately", "self-referral", "triage"],
)  # fmt: skip
def test_a_broken_promise_reminds_the_clinic_and_tells_her_and_the_referrer(
    event: ReferralOverdue, contact: PatientContact, expected: list[tuple[str, str]]
) -> None:
    messages, missed = plan_overdue(event, contact, DIRECTORY, TEMPLATES, "https://intake/r")
    assert missed == []
    assert [(m.recipient, m.channel) for m in messages] == expected


def test_what_she_is_told_of_a_broken_promise_is_kind_and_discreet() -> None:
    by_email = CONTACT.model_copy(
        update={"contact_preferences": ("email",), "email": "jane@example.com"}
    )
    _, email, to_gp = plan_overdue(
        overdue(), by_email, DIRECTORY, TEMPLATES, "https://i/v1/referrals/x"
    )[0]
    assert "has not been forgotten" in email.body
    assert "https://i/self-referral/check" in email.body
    assert sensitive_in(email.subject or "", TEMPLATES.sensitive_words) == []
    promised = DIRECTORY.promises_for(overdue().service, SITE).accept.working_days
    assert f"within the {promised} working days the service promises" in to_gp.body


async def test_a_broken_promise_is_told_once_and_not_after_the_referral_moved_on() -> None:
    decision = routed()
    world = World(decision)
    world.contacts.known[decision.referral_id] = CONTACT.model_copy(
        update={"status": ReferralState.ROUTED}
    )
    late = overdue(referral_id=decision.referral_id)
    batch = [Incoming(late, "referrals.overdue")]
    await world.notifier().handle_batch(batch)
    await world.notifier().handle_batch(batch)  # redelivered: nothing more
    assert (world.webhook.calls, world.notify.calls, world.smtp.calls) == (1, 1, 1)
    ((_, (hook,)),) = world.webhook.payloads.items()
    assert (hook["event"], hook["clock"]) == ("referral.overdue", "accept")  # type: ignore[index]

    accepted = CONTACT.model_copy(update={"status": ReferralState.ACCEPTED})
    world.contacts.known[decision.referral_id] = accepted
    stale = overdue(referral_id=decision.referral_id)  # fired, then the clinic accepted it
    await world.notifier().handle_batch([Incoming(stale, "referrals.overdue")])
    assert (world.webhook.calls, world.notify.calls, world.smtp.calls) == (1, 1, 1)


def test_a_broken_appointment_promise_is_told_in_weeks() -> None:
    late = overdue("appointment", state="booked")
    messages, _ = plan_overdue(late, CONTACT, DIRECTORY, TEMPLATES, "https://i/v1/referrals/x")
    (to_gp,) = [m for m in messages if m.recipient == "referrer"]
    weeks = DIRECTORY.promises_for(late.service, SITE).appointment.weeks
    assert f"not yet been seen at an appointment within the {weeks} weeks" in to_gp.body


def reminder(**fields: Any) -> AppointmentReminder:
    return AppointmentReminder(**{**about_a_referral(), "appointment": APPOINTMENT, **fields})


APPOINTMENT = Appointment(
    starts_at=datetime.now(UTC) + timedelta(days=3), mode="in-person", place="Clinic 4, Floor 2"
)


def test_a_reminder_is_hers_alone_and_says_when_but_nothing_more() -> None:
    messages, missed = plan_reminder(reminder(), CONTACT, DIRECTORY, TEMPLATES, "https://i/r")
    assert missed == []
    ((recipient, channel, body),) = [(m.recipient, m.channel, m.body) for m in messages]
    assert (recipient, channel) == ("patient", "sms")
    assert "a reminder of your NHS appointment" in body
    assert when_words(APPOINTMENT) in body
    assert sensitive_in(body, TEMPLATES.sensitive_words) == []
    assert APPOINTMENT.place not in body  # discreet: where is on the page behind the link


async def test_a_reminder_is_sent_once_and_not_for_an_appointment_no_longer_booked() -> None:
    decision = routed()
    world = World(decision)
    world.contacts.known[decision.referral_id] = CONTACT.model_copy(
        update={"status": ReferralState.BOOKED}
    )
    near = Incoming(reminder(referral_id=decision.referral_id), "referrals.reminders")
    await world.notifier().handle_batch([near])
    await world.notifier().handle_batch([near])  # redelivered: nothing more
    assert (world.webhook.calls, world.notify.calls, world.smtp.calls) == (0, 1, 0)

    world.contacts.known[decision.referral_id] = CONTACT.model_copy(
        update={"status": ReferralState.ACCEPTED}  # the appointment was cancelled since
    )
    stale = Incoming(reminder(referral_id=decision.referral_id), "referrals.reminders")
    await world.notifier().handle_batch([stale])
    assert world.notify.calls == 1
