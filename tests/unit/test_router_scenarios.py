"""Every rule of DOMAIN.md as a scenario, asked through `python -m router explain`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from router.__main__ import cli
from shared.contracts import ReferrerRole, ServiceCode
from shared.directory import load_directory

AS_OF = "2026-11-23"
POSTCODES = {  # a full postcode in each district the scenarios use
    "B1": "B1 1AA",
    "BS8": "BS8 1TH",
    "TR1": "TR1 2AB",
    "B97": "B97 4AA",
    "LS1": "LS1 4AP",
    "EH1": "EH1 1YZ",
    "ZZ1": "ZZ1 1AA",
    "ME14": "ME14 1XX",
    "DA1": "DA1 1AA",
    "CT1": "CT1 2AA",
    "ME8": "ME8 0AA",
    "TN23": "TN23 1AA",
    "ME1": "ME1 1AA",
    "TN5": "TN5 6AA",
}
HUB_SERVICES = [
    "contraception",
    "cervical-screening",
    "sti",
    "pessary",
    "menopause",
    "menstrual",
    "pre-conception",
    "breast-pain",
]


def referral(
    service: str,
    role: str = "gp",
    district: str = "ME14",
    status: str = "not-pregnant",
    sex: str = "female",
    **clinical: Any,
) -> dict[str, Any]:
    referrer: dict[str, Any] = {"role": role}
    patient: dict[str, Any] = {
        "given_name": "Test",
        "family_name": "Person",
        "date_of_birth": "1990-05-05",
        "sex_at_birth": sex,
        "postcode": POSTCODES[district],
        "mobile": "07700900000",
    }
    if role != "self":
        referrer |= {
            "name": "Dr Test",
            "organisation_code": "M85001",
            "contact_email": "referrals@example.nhs.uk",
        }
        patient["nhs_number"] = "9434765919"
    dates = {
        "pregnant": {"expected_delivery_date": "2027-03-01"},
        "postnatal": {"delivery_date": "2026-07-14"},
    }.get(status, {})
    return {
        "service": service,
        "referrer": referrer,
        "patient": patient,
        "clinical": {"pregnancy_status": status, **dates, "reason": "Scenario.", **clinical},
    }


def explain(submission: dict[str, Any], as_of: str = AS_OF) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["explain", "--as-of", as_of], input=json.dumps(submission))
    stream = result.stdout if result.exit_code == 0 else result.stderr
    return result.exit_code, json.loads(stream)


# (name, submission, outcome, destination, rule ids that must be among the reasons)
SCENARIOS: list[tuple[str, dict[str, Any], str, str | None, set[str]]] = [
    # Perinatal pelvic health
    (
        "pelvic: GP, new mother in Birmingham",
        referral("pelvic-health", district="B1", status="postnatal"),
        "routed",
        "pelvic-bsol",
        {"pelvic-health.area-has-clinic"},
    ),
    (
        "pelvic: self-referral, pregnant, Bristol",
        referral("pelvic-health", "self", "BS8", "pregnant"),
        "routed",
        "pelvic-bnssg",
        set(),
    ),
    (
        "pelvic: midwife (local policy), Cornwall",
        referral("pelvic-health", "midwife", "TR1", "pregnant"),
        "routed",
        "pelvic-cios",
        set(),
    ),
    (
        "pelvic: a district beats an area (B97 is Worcestershire)",
        referral("pelvic-health", "self", "B97", "pregnant"),
        "routed",
        "pelvic-hw",
        set(),
    ),
    (
        "pelvic: health visitor may not refer",
        referral("pelvic-health", "health-visitor", "B1", "pregnant"),
        "rejected",
        None,
        {"pelvic-health.referrer-allowed"},
    ),
    (
        "pelvic: consultant obstetrician may not refer",
        referral("pelvic-health", "consultant-obstetrician", "B1", "pregnant"),
        "rejected",
        None,
        {"pelvic-health.referrer-allowed"},
    ),
    (
        "pelvic: not pregnant, no recent birth",
        referral("pelvic-health", "self", "B1", "not-pregnant"),
        "rejected",
        None,
        {"pelvic-health.eligible-pregnancy-status"},
    ),
    (
        "pelvic: planning a pregnancy",
        referral("pelvic-health", "self", "B1", "planning-pregnancy"),
        "rejected",
        None,
        {"pelvic-health.eligible-pregnancy-status"},
    ),
    (
        "pelvic: birth exactly 12 months ago is inside",
        referral("pelvic-health", "self", "B1", "postnatal", delivery_date="2025-11-23"),
        "routed",
        "pelvic-bsol",
        {"pelvic-health.eligible-pregnancy-status"},
    ),
    (
        "pelvic: birth 12 months and a day ago is outside",
        referral("pelvic-health", "self", "B1", "postnatal", delivery_date="2025-11-22"),
        "rejected",
        None,
        {"pelvic-health.eligible-pregnancy-status"},
    ),
    (
        "pelvic: England, but no clinic in Leeds",
        referral("pelvic-health", "self", "LS1", "pregnant"),
        "rejected",
        None,
        {"pelvic-health.area-has-clinic"},
    ),
    (
        "pelvic: Scotland is outside NHS England",
        referral("pelvic-health", "self", "EH1", "pregnant"),
        "rejected",
        None,
        {"pelvic-health.resident-in-area"},
    ),
    (
        "pelvic: unknown area needs a person",
        referral("pelvic-health", "self", "ZZ1", "pregnant"),
        "needs-triage",
        None,
        {"pelvic-health.area-known"},
    ),
    (
        "facts: male at birth and pregnant conflict",
        referral("pelvic-health", "self", "B1", "pregnant", sex="male"),
        "needs-triage",
        None,
        {"facts.sex-and-pregnancy-conflict"},
    ),
    (
        "facts: a due date long past conflicts with 'pregnant'",
        referral("pelvic-health", "self", "B1", "pregnant", expected_delivery_date="2026-09-01"),
        "needs-triage",
        None,
        {"facts.due-date-passed"},
    ),
    # Women's health hubs (Kent and Medway)
    (
        "hub: self-referral for contraception, Maidstone",
        referral("contraception", "self", "ME14"),
        "routed",
        "hub-west-kent",
        {"contraception.area-has-clinic"},
    ),
    ("hub: GP, Dartford", referral("contraception", "gp", "DA1"), "routed", "hub-dgs", set()),
    (
        "hub: self-referral for cervical screening, Canterbury",
        referral("cervical-screening", "self", "CT1"),
        "routed",
        "hub-east-kent",
        set(),
    ),
    (
        "hub: practice nurse, STI, Gillingham",
        referral("sti", "practice-nurse", "ME8"),
        "routed",
        "hub-medway-swale",
        set(),
    ),
    (
        "hub: no self-referral for menopause",
        referral("menopause", "self", "ME14"),
        "rejected",
        None,
        {"menopause.referrer-allowed"},
    ),
    (
        "hub: outside Kent and Medway",
        referral("menopause", "gp", "B1"),
        "rejected",
        None,
        {"menopause.resident-in-area"},
    ),
    (
        "hub: East Sussex side of TN is outside",
        referral("pessary", "gp", "TN5"),
        "rejected",
        None,
        {"pessary.resident-in-area"},
    ),
    # Thrive
    (
        "thrive: GP after talking therapies",
        referral("thrive", "gp", "ME14", "postnatal", completed_talking_therapies=True),
        "routed",
        "thrive-kent-medway",
        {"thrive.completed-talking-therapies"},
    ),
    (
        "thrive: health visitor after counselling",
        referral("thrive", "health-visitor", "CT1", completed_talking_therapies=True),
        "routed",
        "thrive-kent-medway",
        set(),
    ),
    (
        "thrive: self-referral is returned",
        referral("thrive", "self", "ME14", completed_talking_therapies=True),
        "rejected",
        None,
        {"thrive.referrer-is-professional"},
    ),
    (
        "thrive: no talking therapies yet",
        referral("thrive", "midwife", "ME14", completed_talking_therapies=False),
        "rejected",
        None,
        {"thrive.completed-talking-therapies"},
    ),
    (
        "thrive: talking therapies not shown",
        referral("thrive", "gp", "ME14"),
        "rejected",
        None,
        {"thrive.completed-talking-therapies"},
    ),
    (
        "thrive: outside Kent and Medway",
        referral("thrive", "gp", "B1", completed_talking_therapies=True),
        "rejected",
        None,
        {"thrive.resident-in-area"},
    ),
    # Maternal Medicine
    (
        "mms: consultant obstetrician, pregnant",
        referral("maternal-medicine", "consultant-obstetrician", "CT1", "pregnant"),
        "routed",
        "mms-kent-medway",
        set(),
    ),
    (
        "mms: thinking of becoming pregnant",
        referral("maternal-medicine", "consultant-obstetrician", "ME1", "planning-pregnancy"),
        "routed",
        "mms-kent-medway",
        set(),
    ),
    (
        "mms: a GP may not refer",
        referral("maternal-medicine", "gp", "ME1", "pregnant"),
        "rejected",
        None,
        {"maternal-medicine.referrer-is-consultant-obstetrician"},
    ),
    (
        "mms: a midwife may not refer",
        referral("maternal-medicine", "midwife", "ME1", "pregnant"),
        "rejected",
        None,
        {"maternal-medicine.referrer-is-consultant-obstetrician"},
    ),
    (
        "mms: not pregnant nor planning",
        referral("maternal-medicine", "consultant-obstetrician", "ME1", "not-pregnant"),
        "rejected",
        None,
        {"maternal-medicine.eligible-pregnancy-status"},
    ),
    # Fertility
    (
        "fertility: with prior approval",
        referral("fertility", "gp", "ME14", prior_approval_reference="PA-123"),
        "routed",
        "fertility-kent-medway",
        {"fertility.prior-approval-reference"},
    ),
    (
        "fertility: no prior approval is returned",
        referral("fertility", "gp", "ME14"),
        "rejected",
        None,
        {"fertility.prior-approval-reference"},
    ),
    (
        "fertility: outside Kent and Medway",
        referral("fertility", "gp", "BS8", prior_approval_reference="PA-1"),
        "rejected",
        None,
        {"fertility.resident-in-area"},
    ),
]


@pytest.mark.parametrize(
    ("submission", "outcome", "destination", "rules"),
    [pytest.param(*case[1:], id=case[0]) for case in SCENARIOS],
)
def test_scenario(
    submission: dict[str, Any], outcome: str, destination: str | None, rules: set[str]
) -> None:
    code, decision = explain(submission)
    assert code == 0
    assert decision["outcome"] == outcome
    assert (decision["destination"] or {}).get("id") == destination
    assert rules <= {r["rule"] for r in decision["reasons"]}
    assert decision["reasons"], "every outcome is explained"
    assert all(r["message"] for r in decision["reasons"])
    assert decision["rules_version"].startswith("sha256:")
    if outcome == "rejected":
        assert decision["signposting"], "a rejection always gives the right route"


def test_cardiac_condition_marks_maternal_medicine_urgent() -> None:
    cardiac = referral(
        "maternal-medicine", "consultant-obstetrician", "CT1", "pregnant", conditions=["cardiac"]
    )
    assert explain(cardiac)[1]["urgent"] is True
    assert (
        explain(referral("maternal-medicine", "consultant-obstetrician", "CT1", "pregnant"))[1][
            "urgent"
        ]
        is False
    )


@pytest.mark.parametrize("service", HUB_SERVICES)
def test_every_hub_service_is_offered_by_the_hub_for_the_area(service: str) -> None:
    code, decision = explain(referral(service, "gp", "TN23"))
    assert (code, decision["outcome"], decision["destination"]["id"]) == (
        0,
        "routed",
        "hub-east-kent",
    )


@pytest.mark.parametrize("service", list(ServiceCode))
@pytest.mark.parametrize("role", list(ReferrerRole))
def test_each_role_is_accepted_exactly_where_the_directory_allows(
    service: ServiceCode, role: ReferrerRole
) -> None:
    allowed = role in load_directory().services[service].referrers.allowed
    _, decision = explain(referral(service.value, role.value, "ME14", "pregnant"))
    rules = {r["rule"] for r in decision["reasons"]}
    refused = decision["outcome"] == "rejected" and any(
        rule.startswith(f"{service.value}.referrer") for rule in rules
    )
    assert refused == (not allowed)


def test_an_invalid_submission_exits_2_with_the_field_errors() -> None:
    bad = referral("thrive")
    bad["patient"]["nhs_number"] = "1234567890"
    code, errors = explain(bad)
    assert code == 2
    assert [e["field"] for e in errors["errors"]] == ["patient.nhs_number"]


def test_the_as_of_date_decides_the_postnatal_window() -> None:
    birth = referral("pelvic-health", "self", "B1", "postnatal", delivery_date="2026-01-10")
    assert explain(birth, as_of="2027-01-10")[1]["outcome"] == "routed"
    assert explain(birth, as_of="2027-01-11")[1]["outcome"] == "rejected"
