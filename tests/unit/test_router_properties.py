"""Properties of the rule engine over generated referrals (hypothesis), and of the directory
loader over broken files."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from router.domain.rules import decide
from shared.contracts import (
    Outcome,
    PregnancyStatus,
    ReferralReceived,
    ReferrerRole,
    ServiceCode,
)
from shared.directory import DEFAULT_DIRECTORY, DirectoryError, load_directory

DIRECTORY = load_directory()
AS_OF = date(2026, 11, 23)
DISTRICTS = [
    "B1",
    "B97",
    "BS8",
    "TR1",
    "LS1",
    "EH1",
    "ZZ1",
    "ME14",
    "ME8",
    "DA1",
    "CT1",
    "TN23",
    "TN5",
    "NR1",
    "SE1",
    "BT1",
    "W1A",
    "PL14",
    "PL1",
]


@st.composite
def received(draw: st.DrawFn) -> ReferralReceived:
    status = draw(st.sampled_from(list(PregnancyStatus)))
    days = st.integers(min_value=-400, max_value=400).map(lambda n: AS_OF + timedelta(days=n))
    role = draw(st.sampled_from(list(ReferrerRole)))
    return ReferralReceived(
        correlation_id="p",
        referral_id=uuid4(),
        tracking_reference="WHR-TEST-00000",
        service=draw(st.sampled_from(list(ServiceCode))),
        referrer_role=role,
        referrer_organisation_code=None if role is ReferrerRole.SELF else "M85001",
        age_years=draw(st.integers(min_value=12, max_value=70)),
        sex_at_birth=draw(st.sampled_from(["female", "male", "intersex", "not-known"])),
        postcode_district=draw(st.sampled_from(DISTRICTS)),
        pregnancy_status=status,
        expected_delivery_date=draw(days) if status is PregnancyStatus.PREGNANT else None,
        delivery_date=(
            draw(days.filter(lambda d: d <= AS_OF)) if status is PregnancyStatus.POSTNATAL else None
        ),
        completed_talking_therapies=draw(st.sampled_from([None, True, False])),
        has_prior_approval_reference=draw(st.booleans()),
        conditions=tuple(
            draw(st.lists(st.sampled_from(["cardiac", "renal", "epilepsy"]), max_size=2))
        ),
    )


@settings(max_examples=500, deadline=None)
@given(received())
def test_every_valid_referral_gets_exactly_one_explained_outcome(
    referral: ReferralReceived,
) -> None:
    decision = decide(referral, DIRECTORY, AS_OF)
    assert decision.outcome in set(Outcome)
    assert decision.reasons, "every outcome carries its reasons"
    assert (decision.destination is not None) == (decision.outcome is Outcome.ROUTED)
    if decision.outcome is Outcome.ROUTED:
        assert decision.destination is not None
        sites = {s.id for s in DIRECTORY.services[referral.service].sites}
        assert decision.destination.id in sites
    if decision.outcome is Outcome.REJECTED:
        assert decision.signposting, "a rejection says what the right route is"
    assert decision.rules_version == DIRECTORY.rules_version
    assert decide(referral, DIRECTORY, AS_OF) == decision  # deterministic


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def directory_data() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load(DEFAULT_DIRECTORY.read_text())
    return data


def test_a_broken_directory_names_the_file_the_path_and_the_problem(tmp_path: Path) -> None:
    data = directory_data()
    data["services"]["thrive"]["referrers"]["allowed"] = ["surgeon"]  # type: ignore[index]
    path = write(tmp_path, data)
    with pytest.raises(DirectoryError) as raised:
        load_directory(path)
    message = str(raised.value)
    assert str(path) in message
    assert "services.thrive.referrers.allowed.0" in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["services"].pop("fertility"), "services lacks fertility"),
        (lambda d: d["services"]["thrive"]["messages"].pop("referrer"), "messages lacks referrer"),
        (
            lambda d: d["services"]["pelvic-health"]["sites"][1]["serves"].update(
                postcode_areas=["B"]
            ),
            "B is served by both pelvic-bsol and pelvic-bnssg",
        ),
        (lambda d: d["policy"].pop("postnatal_window_months"), "postnatal_window_months"),
    ],
)
def test_a_directory_that_cannot_decide_is_refused_whole(
    tmp_path: Path, change: object, problem: str
) -> None:
    data = directory_data()
    change(data)  # type: ignore[operator]
    with pytest.raises(DirectoryError, match=problem):
        load_directory(write(tmp_path, data))


def test_not_yaml_and_missing_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="not valid YAML"):
        load_directory(write(tmp_path, "services: [unclosed"))
    with pytest.raises(DirectoryError, match="cannot read"):
        load_directory(tmp_path / "absent.yaml")


def test_the_rules_version_follows_the_content(tmp_path: Path) -> None:
    data = directory_data()
    same = load_directory(write(tmp_path, DEFAULT_DIRECTORY.read_text()))
    assert same.rules_version == DIRECTORY.rules_version
    data["policy"]["postnatal_window_months"]["value"] = 13  # type: ignore[index]
    edited = load_directory(write(tmp_path, data))
    assert edited.rules_version != DIRECTORY.rules_version
