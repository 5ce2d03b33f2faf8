"""Who is told what, and in which words: discreet unless the patient chose full detail."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml

from notifier.domain.plan import plan
from notifier.domain.templates import DEFAULT_TEMPLATES, TemplateError, load_templates, sensitive_in
from shared.contracts import Outcome, PatientContact, ReferralDecided, ServiceCode
from shared.directory import load_directory

DIRECTORY, TEMPLATES = load_directory(), load_templates()


def contact(**changes: Any) -> PatientContact:
    values: dict[str, Any] = {
        "given_name": "Jane",
        "email": "jane@example.com",
        "mobile": "07700900123",
        "contact_preferences": ("sms",),
        "message_detail": "discreet",
        "referrer_role": "gp",
        "referrer_email": "gp@example.nhs.uk",
    }
    return PatientContact.model_validate({**values, **changes})


def decided(outcome: Outcome, service: ServiceCode) -> ReferralDecided:
    site = DIRECTORY.services[service].sites[0]
    return ReferralDecided(
        correlation_id="c",
        referral_id=uuid4(),
        tracking_reference="WHR-2345-6789X",
        received_event_id=uuid4(),
        outcome=outcome,
        service=service,
        destination={"id": site.id, "name": site.name} if outcome is Outcome.ROUTED else None,
        reasons=[{"rule": "r", "message": DIRECTORY.services[service].messages["referrer"]}],
        signposting=list(DIRECTORY.services[service].signposting["referrer"]),
        rules_version="v",
    )


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("service", list(ServiceCode))
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_discreet_patient_messages_never_name_a_condition(
    outcome: Outcome, service: ServiceCode, channel: str
) -> None:
    who = contact(contact_preferences=(channel,), referrer_role="self")
    messages, _ = plan(decided(outcome, service), who, DIRECTORY, TEMPLATES, "https://x/r")
    (patient,) = [m for m in messages if m.recipient == "patient"]
    assert patient.channel == channel
    visible = patient.body if channel == "sms" else patient.subject or ""
    assert sensitive_in(visible, TEMPLATES.sensitive_words) == [], visible


def test_full_detail_names_the_service_when_she_chose_it() -> None:
    who = contact(message_detail="full")
    messages, _ = plan(decided(Outcome.ROUTED, ServiceCode.THRIVE), who, DIRECTORY, TEMPLATES, "u")
    assert "Thrive" in messages[0].body


@pytest.mark.parametrize(
    ("outcome", "role", "expected"),
    [
        (Outcome.ROUTED, "gp", {("patient", "sms"), ("clinic", "webhook")}),
        (Outcome.REJECTED, "gp", {("referrer", "email")}),
        (Outcome.REJECTED, "self", {("patient", "sms")}),
        (Outcome.NEEDS_TRIAGE, "gp", {("patient", "sms")}),
    ],
)
def test_who_is_told_what(outcome: Outcome, role: str, expected: set[tuple[str, str]]) -> None:
    messages, missed = plan(
        decided(outcome, ServiceCode.PELVIC_HEALTH),
        contact(referrer_role=role),
        DIRECTORY,
        TEMPLATES,
        "https://intake/v1/referrals/x",
    )
    assert {(m.recipient, m.channel) for m in messages} == expected
    assert missed == []


def test_a_patient_with_no_reachable_channel_is_reported_not_dropped() -> None:
    who = contact(mobile=None, email=None, contact_preferences=("letter",))
    messages, missed = plan(
        decided(Outcome.NEEDS_TRIAGE, ServiceCode.STI), who, DIRECTORY, TEMPLATES, "u"
    )
    assert messages == []
    assert [m.recipient for m in missed] == ["patient"]


def test_a_template_that_could_leak_is_refused_at_load(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_TEMPLATES.read_text())
    data["patient"]["routed"]["sms"]["discreet"] = "Your {service_name} referral is accepted."
    path = tmp_path / "templates.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TemplateError, match="uses \\['service_name'\\]"):
        load_templates(path)
    data["patient"]["routed"]["sms"]["discreet"] = "Your incontinence referral is accepted."
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TemplateError, match="names \\['incontinence'\\]"):
        load_templates(path)


def test_a_woman_with_only_an_address_is_sent_a_discreet_letter() -> None:
    address = ("Jane Doe", "1 Station Road", "Bristol", "BS8 1TH")
    who = contact(mobile=None, email=None, contact_preferences=("letter",), address=address)
    messages, missed = plan(
        decided(Outcome.ROUTED, ServiceCode.PELVIC_HEALTH), who, DIRECTORY, TEMPLATES, "u"
    )
    (letter,) = [m for m in messages if m.recipient == "patient"]
    assert (letter.channel, letter.to.split("\n")) == ("letter", list(address))
    assert sensitive_in(letter.subject or "", TEMPLATES.sensitive_words) == []
    assert missed == []
