"""Intake's pure domain: tracking references and the identifier-free hand-off event."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.samples import gp_referral
from intake.domain.tracking import ALPHABET, is_valid_tracking_reference, new_tracking_reference
from shared.reduction import age_in_years, for_routing
from shared.submission import ReferralSubmission
from tests.unit.test_submission import TODAY


def test_new_references_validate_and_look_right() -> None:
    for _ in range(200):
        reference = new_tracking_reference()
        assert reference.startswith("WHR-")
        assert len(reference) == len("WHR-XXXX-XXXXX")
        assert is_valid_tracking_reference(reference)
        assert is_valid_tracking_reference(reference.lower().replace("-", " "))


@given(st.data())
def test_any_single_character_typo_is_caught(data: st.DataObject) -> None:
    reference = new_tracking_reference()
    positions = [i for i, c in enumerate(reference) if c in ALPHABET and i >= 4]
    position = data.draw(st.sampled_from(positions))
    wrong = data.draw(st.sampled_from([c for c in ALPHABET if c != reference[position]]))
    typo = reference[:position] + wrong + reference[position + 1 :]
    assert not is_valid_tracking_reference(typo)


@pytest.mark.parametrize("text", ["", "WHR-", "XYZ-AAAA-AAAAA", "WHR-0000-00000", "WHR-AAAA-AAAA"])
def test_malformed_references_are_refused(text: str) -> None:
    assert not is_valid_tracking_reference(text)


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(1992, 4, 1), date(2026, 3, 31), 33),
        (date(1992, 4, 1), date(2026, 4, 1), 34),
        (date(2000, 2, 29), date(2026, 2, 28), 25),
        (date(2000, 2, 29), date(2026, 3, 1), 26),
    ],
)
def test_age_in_years_turns_on_the_birthday(born: date, on: date, age: int) -> None:
    assert age_in_years(born, on) == age


def test_routing_event_carries_no_patient_identifier() -> None:
    submission = ReferralSubmission.model_validate(gp_referral(), context={"today": TODAY})
    event = for_routing(
        submission,
        referral_id=uuid.uuid4(),
        tracking_reference=new_tracking_reference(),
        correlation_id="corr",
        today=TODAY,
    )
    wire = event.model_dump_json()
    for identifier in ("9434765919", "Jane", "Doe", "1992-04-01", "B1 1AA", "jane@", "07700900123"):
        assert identifier not in wire
    assert event.age_years == 34
    assert event.postcode_district == "B1"
    assert event.delivery_date == submission.clinical.delivery_date  # carried as given
