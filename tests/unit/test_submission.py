"""Referral submission v1: every validation rule, by the field it names."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from devstack.samples import gp_referral, self_referral
from shared.submission import ReferralSubmission, field_errors, postcode_district

TODAY = date(2026, 11, 23)


def errors_for(payload: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        ReferralSubmission.model_validate(payload, context={"today": TODAY})
    return field_errors(caught.value)


def changed(path: str, value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(gp_referral())
    *parents, last = path.split(".")
    target = payload
    for part in parents:
        target = target[part]
    target[last] = value
    return payload


def test_the_contract_example_is_gp_referral() -> None:
    submission = ReferralSubmission.model_validate(gp_referral(), context={"today": TODAY})
    assert submission.patient.postcode == "B1 1AA"


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        ("patient.nhs_number", "9434765918", "patient.nhs_number", "check digit"),
        ("patient.nhs_number", "12345", "patient.nhs_number", "NHS number"),
        ("patient.nhs_number", None, "patient.nhs_number", "needs the patient's NHS number"),
        ("patient.postcode", "NOT A CODE", "patient.postcode", "UK postcode"),
        ("patient.date_of_birth", "2027-01-01", "patient.date_of_birth", "in the past"),
        ("patient.mobile", "0123", "patient.mobile", "UK mobile"),
        ("patient.email", "not-an-email", "patient.email", "email"),
        ("patient.contact_preferences", ["pigeon"], "patient.contact_preferences.0", "sms"),
        ("patient.sex_at_birth", "unknown", "patient.sex_at_birth", "female"),
        ("referrer.role", "surgeon", "referrer.role", "gp"),
        ("referrer.name", None, "referrer.name", "referrer's name"),
        ("referrer.organisation_code", "!!", "referrer.organisation_code", "ODS"),
        ("service", "dentistry", "service", "pelvic-health"),
        ("clinical.delivery_date", None, "clinical.delivery_date", "delivery date"),
        ("clinical.delivery_date", "2027-01-01", "clinical.delivery_date", "future"),
        (
            "clinical.expected_delivery_date",
            "2027-03-01",
            "clinical.expected_delivery_date",
            "expected delivery",
        ),
        ("clinical.pregnancy_status", "unsure", "clinical.pregnancy_status", "pregnant"),
        ("clinical.reason", "", "clinical.reason", "at least 1"),
        (
            "clinical.delivery_date",
            "1990-01-01",
            "clinical.delivery_date",
            "after the date of birth",
        ),
    ],
)
def test_each_rule_names_its_field(path: str, value: Any, field: str, words: str) -> None:
    errors = errors_for(changed(path, value))
    assert any(e["field"] == field and words in e["message"] for e in errors), errors


def test_contact_preference_needs_the_detail() -> None:
    errors = errors_for(changed("patient.mobile", None))
    assert errors == [
        {"field": "patient.contact_preferences", "message": "Contact by sms needs a mobile number."}
    ]


def test_self_referral_needs_no_nhs_number_nor_organisation() -> None:
    payload = changed("referrer", {"role": "self"})
    payload["patient"]["nhs_number"] = None
    assert ReferralSubmission.model_validate(payload, context={"today": TODAY})


def test_every_failing_field_is_reported_at_once() -> None:
    payload = changed("patient.postcode", "nope")
    payload["referrer"]["organisation_code"] = "!!"
    fields = {e["field"] for e in errors_for(payload)}
    assert {"patient.postcode", "referrer.organisation_code"} <= fields


def test_errors_never_echo_patient_data() -> None:
    errors = errors_for(changed("patient.nhs_number", "9434765918"))
    assert "9434765918" not in str(errors)


def test_unknown_fields_are_refused() -> None:
    errors = errors_for(changed("patient.ethnicity", "x"))
    assert errors[0]["field"] == "patient.ethnicity"


def test_repr_hides_patient_details() -> None:
    submission = ReferralSubmission.model_validate(gp_referral(), context={"today": TODAY})
    assert "Jane" not in repr(submission)
    assert "9434765919" not in repr(submission)


@pytest.mark.parametrize(
    ("postcode", "district"),
    [("b1 1aa", "B1"), ("SW1A1AA", "SW1A"), ("ME14 1XX", "ME14"), ("gir0aa", "GIR")],
)
def test_postcode_district_is_the_outward_code(postcode: str, district: str) -> None:
    assert postcode_district(postcode) == district


def test_a_woman_who_refers_herself_must_be_reachable() -> None:
    no_way = self_referral(
        **{"patient.email": ..., "patient.mobile": ..., "patient.contact_preferences": []}
    )
    with pytest.raises(
        ValidationError, match="a mobile number, an email address or a postal address"
    ):
        ReferralSubmission.model_validate(no_way)
    mobile_only = {"patient.email": ..., "patient.contact_preferences": ["sms"]}
    ReferralSubmission.model_validate(self_referral(**mobile_only))


def test_a_letter_needs_an_address_and_the_address_is_kept() -> None:
    letter = {"patient.contact_preferences": ["letter"]}
    with pytest.raises(ValidationError, match="postal address"):
        ReferralSubmission.model_validate(self_referral(**letter))
    address = {"lines": ["1 Station Road", "Bristol"]}
    kept = ReferralSubmission.model_validate(
        self_referral(**letter, **{"patient.address": address})
    )
    assert kept.patient.address is not None
    assert kept.patient.address.lines == ("1 Station Road", "Bristol")
