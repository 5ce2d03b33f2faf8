"""Who is told what, on which channel (DOMAIN.md, "Who is told what").

Routed: the patient (her first reachable preferred channel) and the clinic (its webhook).
Rejected: the referrer (email) and, for a self-referral, the woman herself, in plain words.
Needs triage: the patient, that it was received and is being looked at.
A referral that came in as a BaRS message from an organisation with a registered endpoint:
its system also hears every decision and every later step it did not take itself.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from notifier.domain.templates import PatientNews, ReferrerNews, Templates, render
from shared.contracts import (
    Appointment,
    AppointmentReminder,
    Channel,
    Outcome,
    PatientContact,
    Recipient,
    ReferralAccepted,
    ReferralAmended,
    ReferralAppointmentCancelled,
    ReferralAttended,
    ReferralBooked,
    ReferralCancelled,
    ReferralDecided,
    ReferralDidNotAttend,
    ReferralDischarged,
    ReferralNotContactable,
    ReferralOverdue,
    ReferralReturned,
    ReferralState,
    ReferralTransitioned,
    ReferrerRole,
    ServiceCode,
)
from shared.directory import Directory

LONDON = ZoneInfo("Europe/London")
CHECK_PATH = "/self-referral/check"  # intake's page where she sees where her referral stands
_HOW = {"in-person": "in person", "telephone": "by telephone", "video": "by video call"}


@dataclass(frozen=True)
class Message:
    recipient: Recipient
    channel: Channel
    to: str  # phone number, email address or site id
    subject: str | None
    body: str


class Unreachable(Exception):
    """Nobody can be told on any channel they accept; recorded as a failed notification."""

    def __init__(self, recipient: Recipient, why: str) -> None:
        super().__init__(f"{recipient}: {why}")
        self.recipient = recipient


def plan(
    decision: ReferralDecided,
    contact: PatientContact,
    directory: Directory,
    templates: Templates,
    referral_url: str,
) -> tuple[list[Message], list[Unreachable]]:
    values = _values_about(
        contact, decision.tracking_reference, decision.service, None, directory, referral_url
    ) | {
        "destination_name": decision.destination.name if decision.destination else "",
        "reasons": "\n".join(r.message for r in decision.reasons),
        "signposting": " ".join(decision.signposting),
    }
    messages: list[Message] = []
    missed: list[Unreachable] = []
    self_referral = contact.referrer_role == ReferrerRole.SELF.value
    tell_patient = decision.outcome is not Outcome.REJECTED or self_referral
    if tell_patient:
        try:
            messages.append(_to_patient(decision.outcome.value, contact, templates, values))
        except Unreachable as error:
            missed.append(error)
    if decision.outcome is Outcome.ROUTED and decision.destination is not None:
        messages.append(Message("clinic", "webhook", decision.destination.id, None, ""))
    messages += _to_sending_system(contact)
    if decision.outcome is Outcome.REJECTED and not self_referral:
        _email_referrer("rejected", contact, templates, values, messages, missed)
    return messages, missed


def _to_sending_system(contact: PatientContact) -> list[Message]:
    """The referring system's own endpoint (BaRS), when it registered one: the message is
    built from the event when it is sent (`sending`), and names no patient."""
    if contact.referrer_endpoint is None:
        return []
    return [Message("referrer", "bars", contact.referrer_endpoint, None, "")]


def _to_patient(
    news: PatientNews, contact: PatientContact, templates: Templates, values: dict[str, str]
) -> Message:
    texts = templates.patient[news]
    detail = contact.message_detail
    # Her preferences first; else whatever we can reach, SMS first (shorter, discreet).
    for channel in (*contact.contact_preferences, "sms", "email", "letter"):
        if channel == "sms" and contact.mobile:
            body = render(texts.sms.pick(detail), values)
            return Message("patient", "sms", contact.mobile, None, body)
        if channel == "email" and contact.email:
            subject = render(texts.email.subject.pick(detail), values)
            return Message(
                "patient", "email", contact.email, subject, render(texts.email.body, values)
            )
        if channel == "letter" and contact.address:
            # A letter says what the email says; only she opens it.
            subject = render(texts.email.subject.pick(detail), values)
            address = "\n".join(contact.address)
            return Message("patient", "letter", address, subject, render(texts.email.body, values))
    raise Unreachable("patient", "no mobile number, email address or postal address")


def without_channels(contact: PatientContact, tried: Collection[str]) -> PatientContact:
    """Her contact with the channels already tried taken away: planned again, the same
    message goes by her next preference she can be reached on (a fallback, DOMAIN.md)."""
    return contact.model_copy(
        update={
            "mobile": None if "sms" in tried else contact.mobile,
            "email": None if "email" in tried else contact.email,
            "address": None if "letter" in tried else contact.address,
            "contact_preferences": tuple(c for c in contact.contact_preferences if c not in tried),
        }
    )


def plan_step(
    step: ReferralTransitioned,
    contact: PatientContact,
    directory: Directory,
    templates: Templates,
    referral_url: str,
) -> tuple[list[Message], list[Unreachable]]:
    """Who is told of a step after routing (DOMAIN.md, "After routing" and "To the end of the
    journey"). Accepted: the woman, that the clinic will contact her. Returned to the
    referrer: the referrer, with the reason (and a woman who referred herself, in plain
    words); returned to triage: nobody yet. Cancelled: the clinic if it held the referral,
    and whoever cancelled. Amended: the clinic if it holds it. Booked (or changed), an
    appointment cancelled, not attended, not contactable, discharged: the woman, and the
    referrer of each but a changed or cancelled appointment (for a woman who referred
    herself, she is the referrer). Attended: nobody but the sending system. A BaRS sender's
    system: each step but its own cancellation or amendment."""
    about = _values_about(
        contact, step.tracking_reference, step.service, step.site, directory, referral_url,
        nobody_there="the clinic",
    )  # fmt: skip
    values = about | {"reasons": getattr(step, "reason", ""), "signposting": ""}
    values |= _step_values(step)
    messages: list[Message] = []
    missed: list[Unreachable] = []
    self_referral = contact.referrer_role == ReferrerRole.SELF.value

    def patient(news: PatientNews) -> None:
        try:
            messages.append(_to_patient(news, contact, templates, values))
        except Unreachable as error:
            missed.append(error)

    def referrer(news: ReferrerNews) -> None:
        _email_referrer(news, contact, templates, values, messages, missed)

    def clinic() -> None:
        if step.site is not None:
            messages.append(Message("clinic", "webhook", step.site, None, ""))

    match step:
        case ReferralAccepted():
            patient("accepted")
            messages.extend(_to_sending_system(contact))
        case ReferralReturned(to="referrer"):
            patient("returned") if self_referral else referrer("returned")
            messages.extend(_to_sending_system(contact))
        case ReferralReturned():  # to triage: the sender's referral is waiting again
            messages.extend(_to_sending_system(contact))
        case ReferralCancelled(by=by):
            clinic()
            patient("cancelled") if by == "patient" or self_referral else referrer("cancelled")
            if by != "referrer":  # a referrer that cancelled knows
                messages.extend(_to_sending_system(contact))
        case ReferralAmended():
            clinic()
        case ReferralBooked(before=before):
            rebooked = before == ReferralState.BOOKED
            patient("rebooked" if rebooked else "booked")
            if not (rebooked or self_referral):
                referrer("booked")
            messages.extend(_to_sending_system(contact))
        case ReferralAppointmentCancelled():
            patient("appointment-cancelled")
            messages.extend(_to_sending_system(contact))
        case ReferralAttended():
            messages.extend(_to_sending_system(contact))
        case ReferralDidNotAttend() | ReferralNotContactable() | ReferralDischarged():
            news = step.transition
            assert news in ("did-not-attend", "not-contactable", "discharged")
            patient(news)
            if not self_referral:
                referrer(news)
            messages.extend(_to_sending_system(contact))
    return messages, missed


_WAITING_FOR = {
    "accept": "the clinic has not yet accepted or returned it",
    "book": "the clinic has not yet booked an appointment",
    "triage": "it is still waiting for our team to decide where it should go",
    "appointment": "she has not yet been seen at an appointment",
}


def plan_overdue(
    overdue: ReferralOverdue,
    contact: PatientContact,
    directory: Directory,
    templates: Templates,
    referral_url: str,
) -> tuple[list[Message], list[Unreachable]]:
    """Who is told of a promise broken (DOMAIN.md, "Silences"): the clinic that holds it, a
    reminder (its webhook); the referrer (email, and its own system for a BaRS sender); the
    woman, kindly, that her referral has not been forgotten, unless she was told of another
    breach lately (`tell_her`, decided where the clock fired)."""
    values = _values_about(
        contact, overdue.tracking_reference, overdue.service, overdue.site, directory,
        referral_url,
    ) | {
        "waiting_for": _WAITING_FOR[overdue.clock],
        "promised": getattr(directory.promises_for(overdue.service, overdue.site),
                            overdue.clock).words,
    }  # fmt: skip
    messages: list[Message] = []
    missed: list[Unreachable] = []
    if overdue.site is not None:
        messages.append(Message("clinic", "webhook", overdue.site, None, ""))
    if overdue.tell_her:
        try:
            messages.append(_to_patient("overdue", contact, templates, values))
        except Unreachable as error:
            missed.append(error)
    if contact.referrer_role != ReferrerRole.SELF.value:
        _email_referrer("overdue", contact, templates, values, messages, missed)
    messages += _to_sending_system(contact)
    return messages, missed


def plan_reminder(
    reminder: AppointmentReminder,
    contact: PatientContact,
    directory: Directory,
    templates: Templates,
    referral_url: str,
) -> tuple[list[Message], list[Unreachable]]:
    """Her appointment is near: she alone is reminded, on her preferred channel."""
    values = _values_about(
        contact,
        reminder.tracking_reference,
        reminder.service,
        reminder.site,
        directory,
        referral_url,
    ) | {
        "appointment_when": when_words(reminder.appointment),
        "appointment_how": _HOW[reminder.appointment.mode],
        "appointment_where": reminder.appointment.place,
    }
    try:
        return [_to_patient("reminder", contact, templates, values)], []
    except Unreachable as error:
        return [], [error]


def _values_about(
    contact: PatientContact,
    tracking_reference: str,
    service_code: ServiceCode,
    site: str | None,
    directory: Directory,
    referral_url: str,
    *,
    nobody_there: str = "the team",
) -> dict[str, str]:
    """What every message about a referral may say: her first name, its reference, the
    service and site by name, where she checks it, and whom she can ask (the journey's)."""
    service = directory.services[service_code]
    sites = {s.id: s.name for s in service.sites}
    return {
        "given_name": contact.given_name,
        "tracking_reference": tracking_reference,
        "service_name": service.name,
        "destination_name": sites.get(site or "", nobody_there),
        "referral_url": referral_url,
        "check_url": check_url_of(referral_url),
        "contact": directory.journey_for(service_code, site).contact,
    }


def _email_referrer(
    news: ReferrerNews,
    contact: PatientContact,
    templates: Templates,
    values: dict[str, str],
    messages: list[Message],
    missed: list[Unreachable],
) -> None:
    """The referrer's email of this news, or why it cannot be sent."""
    if not contact.referrer_email:
        missed.append(Unreachable("referrer", "the referral gave no referrer email"))
        return
    text = templates.referrer[news]
    subject, body = render(text.subject, values), render(text.body, values)
    messages.append(Message("referrer", "email", contact.referrer_email, subject, body))


def check_url_of(referral_url: str) -> str:
    """Her own page (intake's public base, beside the API's referral links)."""
    base, _, _ = referral_url.partition("/v1/referrals/")
    return base + CHECK_PATH


def when_words(appointment: Appointment) -> str:
    """'Tuesday 15 December 2026 at 10:30am', in London time, as the NHS writes dates."""
    local = appointment.starts_at.astimezone(LONDON)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%A} {local.day} {local:%B %Y} at {hour}:{local:%M}{local:%p}".replace(
        "AM", "am"
    ).replace("PM", "pm")


def _step_values(step: ReferralTransitioned) -> dict[str, str]:
    """The particulars of a step a message may name: the appointment, the outcome."""
    match step:
        case ReferralBooked(appointment=appointment):
            return {
                "appointment_when": when_words(appointment),
                "appointment_how": _HOW[appointment.mode],
                "appointment_where": appointment.place,
            }
        case ReferralDidNotAttend(may_rebook=may_rebook):
            return {
                "next_after_missed": "The clinic will offer another appointment or discharge "
                "her, as its policy says; you will hear which."
                if may_rebook
                else "The service's policy is to discharge after a missed appointment; you "
                "will hear when it has."
            }
        case ReferralNotContactable(attempts=attempts):
            tried = ", ".join(a.astimezone(LONDON).strftime("%-d %B %Y") for a in attempts)
            return {"attempts": f"tried on {tried}"}
        case ReferralDischarged(outcome=outcome, referred_to=referred_to):
            return {"outcome": f"{outcome} ({referred_to})" if referred_to else outcome}
    return {}
