"""BaRS messages read and mapped without a server: the committed sample messages (one per
service, adapted from the official example) are taken and routed as their content implies;
each structure and mapping rule holds, and each refusal names its element; a submission sent
as a BaRS message reads back the same."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum.gb import nhs

from devstack.bars_examples import EXAMPLE_REFERRALS, EXAMPLES, OFFICIAL
from devstack.bars_messages import referral_message
from intake.bars.inbound import to_submission
from intake.bars.message import Message, read_message
from intake.bars.refusals import Refused
from intake.domain.referral import accept_professional
from router.domain.rules import decide
from shared.bars_mapping import BarsMapping, ServiceByIdentifier, load_mapping
from shared.clock import today
from shared.contracts import Outcome, PregnancyStatus, ReferrerRole, ServiceCode
from shared.directory import load_directory
from shared.submission import ReferralSubmission

MAPPING = load_mapping()
DIRECTORY = load_directory()


def example(service: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{service}.json").read_text())
    return loaded


def sent_on(bundle: dict[str, Any]) -> date:
    return datetime.fromisoformat(bundle["timestamp"]).date()


def resource(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    )
    return found


def refusal(
    bundle: dict[str, Any], mapping: BarsMapping = MAPPING, on: date | None = None
) -> Refused:
    with pytest.raises(Refused) as refused:
        to_submission(read_message(bundle), mapping, today=on or sent_on(bundle))
    return refused.value


def issues(refused: Refused) -> list[tuple[int, str, str | None]]:
    return [(i.status, i.bars_code, i.expression) for i in refused.issues]


@pytest.mark.parametrize("service", [e.service for e in EXAMPLE_REFERRALS])
def test_each_committed_example_is_taken_and_routed_as_its_content_implies(service: str) -> None:
    bundle = example(service)
    on = sent_on(bundle)  # as of its own date: its pregnancy dates were written from it
    mapped = to_submission(read_message(bundle), MAPPING, today=on)
    submission = mapped.submission
    assert submission.service.value == service
    accepted = accept_professional(
        submission, organisation_code="G82080", correlation_id="test", today=on
    )
    decision = decide(accepted.received, DIRECTORY, on)
    assert decision.outcome is Outcome.ROUTED, decision.reasons
    assert decision.destination is not None
    district = submission.patient.postcode.split()[0]
    assert decision.destination.id == DIRECTORY.site_for(submission.service, district).id  # type: ignore[union-attr]


def test_there_is_one_example_per_service_and_each_is_valid_fhir() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.json")} == {s.value for s in ServiceCode}


def test_the_official_example_as_published_is_refused_for_what_we_cannot_map() -> None:
    official = json.loads(OFFICIAL.read_text())
    refused = refusal(official, on=today())
    assert issues(refused) == [
        (422, "REC_UNPROCESSABLE_ENTITY", "Bundle.entry[1].resource.performer[0]"),
        (422, "REC_UNPROCESSABLE_ENTITY", "Bundle.entry[15].resource.code"),
    ]


def test_the_official_patients_nhs_number_fails_its_check_digit() -> None:
    bundle = example("menopause")
    resource(bundle, "Patient")["identifier"][0]["value"] = "3478526985"  # the official one
    refused = refusal(bundle)
    assert issues(refused) == [(400, "REC_BAD_REQUEST", "Bundle.entry[5].resource.identifier[0]")]
    assert refused.issues[0].type == "value"


def test_a_missing_nhs_number_is_required_at_the_patients_identifiers() -> None:
    bundle = example("menopause")
    resource(bundle, "Patient")["identifier"] = []
    refused = refusal(bundle)
    assert [(i.status, i.type, i.expression) for i in refused.issues] == [
        (400, "required", "Bundle.entry[5].resource.identifier")
    ]


def test_every_failing_element_is_named_at_once() -> None:
    bundle = example("menopause")
    patient = resource(bundle, "Patient")
    patient["address"][0]["postalCode"] = "NOT A POSTCODE"
    patient["name"][0]["family"] = "J0nes"
    resource(bundle, "ServiceRequest")["note"] = []
    expressions = {i.expression for i in refusal(bundle).issues}
    assert expressions == {
        "Bundle.entry[5].resource.address[0]",
        "Bundle.entry[5].resource.name[0]",
        "Bundle.entry[1].resource.note",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b.update(type="collection"), (400, "Bundle.type")),
        (
            lambda b: b["entry"].reverse(),
            (400, "Bundle.entry[0].resource"),
        ),
        (
            lambda b: b["entry"][0]["resource"]["eventCoding"].update(system="urn:other"),
            (400, "Bundle.entry[0].resource.eventCoding.system"),
        ),
        (
            lambda b: b["entry"][0]["resource"]["eventCoding"].update(code="booking-request"),
            (422, "Bundle.entry[0].resource.eventCoding.code"),
        ),
        (
            lambda b: b["entry"][0]["resource"].update(
                focus=[{"reference": b["entry"][2]["fullUrl"]}]
            ),
            (400, "Bundle.entry[0].resource.focus[0]"),
        ),
        (
            lambda b: b["entry"][1]["resource"].update(
                subject={"reference": f"urn:uuid:{uuid4()}"}
            ),
            (400, "Bundle.entry[1].resource.subject.reference"),
        ),
        (
            lambda b: b["entry"][5]["resource"].update(birthDate="4 May 1974"),
            (400, "Bundle.entry[5].resource.birthDate"),
        ),
    ],
    ids=["not-a-message", "header-not-first", "event-system", "event-code", "focus-type",
         "unresolved-reference", "invalid-fhir"],
)  # fmt: skip
def test_structure_is_checked_before_content(change: Any, expected: tuple[int, str]) -> None:
    bundle = example("menopause")
    change(bundle)
    with pytest.raises(Refused) as refused:
        read_message(bundle)
    assert (refused.value.status, refused.value.issues[0].expression) == expected


def test_not_a_bundle_is_a_bad_request() -> None:
    with pytest.raises(Refused) as refused:
        read_message({"resourceType": "Patient"})
    assert issues(refused.value) == [(400, "REC_BAD_REQUEST", "Bundle")]


def test_a_service_is_found_by_a_listed_dos_id_or_a_service_request_code() -> None:
    bundle = example("menopause")
    resource(bundle, "HealthcareService")["identifier"] = [
        {"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "2000123456"}
    ]
    assert refusal(bundle).issues[0].status == 422  # not listed: refused
    listed = MAPPING.model_copy(
        update={
            "services": MAPPING.services.model_copy(
                update={
                    "healthcare_service_identifiers": (
                        ServiceByIdentifier(
                            system="https://fhir.nhs.uk/Id/dos-service-id",
                            value="2000123456",
                            service=ServiceCode.MENOPAUSE,
                        ),
                    )
                }
            )
        }
    )
    mapped = to_submission(read_message(bundle), listed, today=sent_on(bundle))
    assert mapped.submission.service is ServiceCode.MENOPAUSE
    assert mapped.origin("service") == "Bundle.entry[2].resource.identifier[0]"
    resource(bundle, "ServiceRequest")["code"] = {
        "coding": [{"system": MAPPING.own.service, "code": "sti"}]
    }
    by_code = to_submission(read_message(bundle), MAPPING, today=sent_on(bundle))
    assert by_code.submission.service is ServiceCode.STI


@pytest.mark.parametrize(
    ("system", "code", "role"),
    [(r.system, r.code, r.role) for r in MAPPING.referrer_roles]
    + [(MAPPING.own.referrer_role, "health-visitor", ReferrerRole.HEALTH_VISITOR)],
)
def test_each_listed_role_code_means_its_role(system: str, code: str, role: ReferrerRole) -> None:
    bundle = example("menopause")
    resource(bundle, "PractitionerRole")  # the surgery's role, not the requester's
    requester = next(
        e["resource"]
        for e in bundle["entry"]
        if e["fullUrl"].endswith("b923aa53-2376-4015-a07d-afe8bf2310eb")
    )
    requester["code"] = [{"coding": [{"system": system, "code": code}]}]
    mapped = to_submission(read_message(bundle), MAPPING, today=sent_on(bundle))
    assert mapped.submission.referrer.role is role


def test_a_role_we_cannot_map_is_unprocessable_at_the_role_code() -> None:
    bundle = example("menopause")
    requester = bundle["entry"][15]["resource"]
    requester["code"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "224608005"}]}]
    requester["specialty"] = []
    assert issues(refusal(bundle)) == [
        (422, "REC_UNPROCESSABLE_ENTITY", "Bundle.entry[15].resource.code")
    ]


def test_a_practitioner_as_requester_is_read_through_its_role() -> None:
    bundle = example("menopause")
    resource(bundle, "ServiceRequest")["requester"] = {
        "reference": "urn:uuid:7d948662-bade-450e-b6c5-9bb6ee39cb56"
    }
    mapped = to_submission(read_message(bundle), MAPPING, today=sent_on(bundle))
    assert mapped.submission.referrer.role is ReferrerRole.GP
    assert mapped.submission.referrer.organisation_code == "G82080"
    assert mapped.submission.referrer.name == "Marcy BLAKE"


def test_the_organisation_falls_back_to_the_senders_ods_code() -> None:
    bundle = example("menopause")
    bundle["entry"][15]["resource"]["organization"] = {
        "reference": "urn:uuid:b5e27389-3ca5-4cbc-9173-73f0c74915d9"  # no ODS code
    }
    mapped = to_submission(read_message(bundle), MAPPING, today=sent_on(bundle))
    assert mapped.submission.referrer.organisation_code == "RND"


def test_patient_details_come_from_the_patient_and_her_own_contact() -> None:
    bundle = example("menopause")
    patient = to_submission(read_message(bundle), MAPPING, today=sent_on(bundle)).submission.patient
    assert (patient.nhs_number, patient.given_name, patient.family_name) == (
        "9990000018",
        "Julie",
        "Jones",
    )
    assert (patient.sex_at_birth, patient.postcode) == ("female", "ME14 1XQ")
    assert (patient.mobile, patient.email) == ("07736312544", "julie.jones@example.com")
    assert patient.address is not None
    assert patient.address.lines == ("22 Brightside Crescent", "Overtown")


def test_coded_conditions_map_and_unlisted_codes_are_kept_out() -> None:
    bundle = example("maternal-medicine")  # also carries the official Syncope observation
    mapped = to_submission(read_message(bundle), MAPPING, today=sent_on(bundle))
    assert mapped.submission.clinical.conditions == ("cardiac",)


def test_an_unmapped_pregnancy_status_is_unprocessable() -> None:
    bundle = example("menopause")
    for entry in bundle["entry"]:
        concept = entry["resource"].get("valueCodeableConcept")
        if concept:
            concept["coding"] = [{"system": "http://snomed.info/sct", "code": "1234"}]
    assert refusal(bundle).issues[0].status == 422


def test_a_message_without_a_message_header_id_is_known_by_its_full_url() -> None:
    bundle = example("menopause")
    del bundle["entry"][0]["resource"]["id"]
    message = read_message(bundle)
    assert message.message_id == "1cbdfb97-5859-48a4-8301-d54eab818d68"


def test_the_fingerprint_ignores_spacing_but_not_content() -> None:
    bundle = example("menopause")
    first = read_message(bundle).fingerprint()
    assert read_message(json.loads(json.dumps(bundle, indent=7))).fingerprint() == first
    changed = copy.deepcopy(bundle)
    changed["entry"][1]["resource"]["note"][0]["text"] = "Another reason."
    assert read_message(changed).fingerprint() != first


# A valid professional submission v1, with the fields BaRS carries (contact preferences and
# message detail are not carried: their defaults apply).
_PROFESSIONALS = [r for r in ReferrerRole if r is not ReferrerRole.SELF]
_NAMES = st.from_regex(r"[A-Z][a-z]{1,12}( [A-Z][a-z]{1,12})?", fullmatch=True)


@st.composite
def submissions(draw: st.DrawFn) -> ReferralSubmission:
    now = today()
    born = now - timedelta(days=draw(st.integers(16 * 365, 60 * 365)))
    status = draw(st.sampled_from(PregnancyStatus))
    clinical: dict[str, Any] = {
        "pregnancy_status": status.value,
        "reason": draw(
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 .,'\n-]{0,200}", fullmatch=True)
        ).strip()
        or "x",
        "conditions": draw(
            st.lists(
                st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), unique=True, max_size=4
            )
        ),
        "completed_talking_therapies": draw(st.none() | st.booleans()),
        "prior_approval_reference": draw(
            st.none() | st.from_regex(r"[A-Z]{2}-[0-9]{1,6}", fullmatch=True)
        ),
    }
    if status is PregnancyStatus.PREGNANT:
        clinical["expected_delivery_date"] = (
            now + timedelta(days=draw(st.integers(-30, 280)))
        ).isoformat()
    if status is PregnancyStatus.POSTNATAL:
        clinical["delivery_date"] = (now - timedelta(days=draw(st.integers(0, 300)))).isoformat()
    nine = draw(st.from_regex(r"[1-9][0-9]{8}", fullmatch=True))
    number = next((nine + d for d in "0123456789" if nhs.is_valid(nine + d)), None)
    assume(number is not None)  # a check digit of 10 is never used
    address = draw(st.none() | st.lists(_NAMES, min_size=1, max_size=4))
    return ReferralSubmission.model_validate(
        {
            "service": draw(st.sampled_from(ServiceCode)).value,
            "referrer": {
                "role": draw(st.sampled_from(_PROFESSIONALS)).value,
                "name": draw(_NAMES),
                "organisation_code": draw(st.from_regex(r"[A-Z][0-9A-Z]{2,9}", fullmatch=True)),
                "contact_email": draw(st.sampled_from(["gp@example.nhs.uk", "a.b@example.org"])),
            },
            "patient": {
                "nhs_number": number,
                "given_name": draw(_NAMES),
                "family_name": draw(_NAMES),
                "date_of_birth": born.isoformat(),
                "sex_at_birth": draw(st.sampled_from(["female", "male", "intersex", "not-known"])),
                "postcode": draw(st.sampled_from(["B1 1AA", "ME14 1XQ", "SW1A 2AA", "GIR 0AA"])),
                "email": draw(st.none() | st.just("her@example.com")),
                "mobile": draw(st.none() | st.from_regex(r"07[0-9]{9}", fullmatch=True)),
                "address": None if address is None else {"lines": address},
            },
            "clinical": clinical,
        },
        context={"today": now},
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(submissions())
def test_a_submission_sent_as_a_bars_message_reads_back_the_same(
    submission: ReferralSubmission,
) -> None:
    bundle = referral_message(submission, MAPPING, message_id=uuid4(), sent_at=datetime.now(UTC))
    message: Message = read_message(json.loads(json.dumps(bundle)))
    assert to_submission(message, MAPPING, today=today()).submission == submission


def test_the_mapping_file_lists_only_sourced_standard_codes() -> None:
    """Each standard code names the public source that confirms it (reviewable data)."""
    listed = [*MAPPING.referrer_roles, *MAPPING.conditions, *MAPPING.pregnancy_status.values]
    listed += [
        *MAPPING.pregnancy_status.codes,
        *MAPPING.expected_delivery_date,
        *MAPPING.delivery_date,
    ]
    assert listed
    assert all(c.source for c in listed)
    assert Path(OFFICIAL).exists()
