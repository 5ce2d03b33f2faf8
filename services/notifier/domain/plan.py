"""Who is told what, on which channel (DOMAIN.md, "Who is told what").

Routed: the patient (her first reachable preferred channel) and the clinic (its webhook).
Rejected: the referrer (email) and, for a self-referral, the woman herself, in plain words.
Needs triage: the patient, that it was received and is being looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifier.domain.templates import Templates, render
from shared.contracts import (
    Channel,
    Outcome,
    PatientContact,
    Recipient,
    ReferralDecided,
    ReferrerRole,
)
from shared.directory import Directory


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
    values = {
        "given_name": contact.given_name,
        "tracking_reference": decision.tracking_reference,
        "service_name": directory.services[decision.service].name,
        "destination_name": decision.destination.name if decision.destination else "",
        "reasons": "\n".join(r.message for r in decision.reasons),
        "signposting": " ".join(decision.signposting),
        "referral_url": referral_url,
    }
    messages: list[Message] = []
    missed: list[Unreachable] = []
    self_referral = contact.referrer_role == ReferrerRole.SELF.value
    tell_patient = decision.outcome is not Outcome.REJECTED or self_referral
    if tell_patient:
        try:
            messages.append(_to_patient(decision.outcome, contact, templates, values))
        except Unreachable as error:
            missed.append(error)
    if decision.outcome is Outcome.ROUTED and decision.destination is not None:
        messages.append(Message("clinic", "webhook", decision.destination.id, None, ""))
    if decision.outcome is Outcome.REJECTED and not self_referral:
        if contact.referrer_email:
            text = templates.referrer["rejected"]
            messages.append(
                Message(
                    "referrer",
                    "email",
                    contact.referrer_email,
                    render(text.subject, values),
                    render(text.body, values),
                )
            )
        else:
            missed.append(Unreachable("referrer", "the referral gave no referrer email"))
    return messages, missed


def _to_patient(
    outcome: Outcome, contact: PatientContact, templates: Templates, values: dict[str, str]
) -> Message:
    texts = templates.patient[outcome.value]
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
