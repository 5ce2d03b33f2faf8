"""One BaRS referral message per service we run (docs/bars/examples/), each adapted from the
official BaRS example (docs/bars/official/ValidationRequest.json): the same resources, with
our service named, a referrer role we map, a valid NHS number and the clinical facts the
service's rules read. `python -m devstack bars-examples` writes them, dated today.

All people, numbers and organisations are fictional (the NHS number is from the 999 test
range)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from devstack.bars_messages import clinical_entries
from shared.bars_mapping import BarsMapping, load_mapping
from shared.directory import load_directory
from shared.submission import Clinical

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bars"
OFFICIAL = DOCS / "official" / "ValidationRequest.json"
EXAMPLES = DOCS / "examples"
REFERRER_ODS = "G82080"  # "Patient's Surgery" in the official example
_NAMESPACE = UUID("5b3f0c1e-8d7a-4a8e-9a57-1c2b3d4e5f60")

# The official example's resources, by fullUrl.
_HEADER = "urn:uuid:1cbdfb97-5859-48a4-8301-d54eab818d68"
_REQUEST = "urn:uuid:236bb75d-90ef-461f-b71e-fde7f899802c"
_SERVICE = "urn:uuid:d482d092-6efc-4eef-b4a0-730718b1fbfd"
_PATIENT = "urn:uuid:9589fb37-87a2-48d8-968f-b371429208a8"
_SURGERY = "urn:uuid:c8c21609-cb27-4958-8eb2-37c76f3def85"
_ROLE = "urn:uuid:b923aa53-2376-4015-a07d-afe8bf2310eb"
_PRACTITIONER = "urn:uuid:7d948662-bade-450e-b6c5-9bb6ee39cb56"


@dataclass(frozen=True)
class Example:
    service: str
    role: str
    postcode: str
    reason: str
    pregnancy_status: str = "not-pregnant"
    due_in_days: int | None = None  # the expected delivery date, from the message's date
    delivered_days_ago: int | None = None
    birth_date: str = "1991-05-04"
    conditions: tuple[str, ...] = ()
    completed_talking_therapies: bool | None = None
    prior_approval_reference: str | None = None

    def clinical(self, on: date) -> Clinical:
        """The facts the service's rules read, validated as of the message's date."""
        return Clinical.model_validate(
            {
                "pregnancy_status": self.pregnancy_status,
                "expected_delivery_date": _days(on, self.due_in_days),
                "delivery_date": _days(on, -self.delivered_days_ago)
                if self.delivered_days_ago is not None
                else None,
                "conditions": self.conditions,
                "completed_talking_therapies": self.completed_talking_therapies,
                "prior_approval_reference": self.prior_approval_reference,
                "reason": self.reason,
            },
            context={"today": on},
        )


def _days(on: date, days: int | None) -> date | None:
    return None if days is None else on + timedelta(days=days)


_KENT = "ME14 1XQ"
EXAMPLE_REFERRALS: tuple[Example, ...] = (
    Example("pelvic-health", "gp", "B15 2TT", "Pelvic girdle pain since the birth.",
            "postnatal", delivered_days_ago=60),
    Example("thrive", "midwife", _KENT, "Low mood continuing after talking therapy.",
            "pregnant", due_in_days=120,
            completed_talking_therapies=True),
    Example("maternal-medicine", "consultant-obstetrician", _KENT,
            "Known heart disease; now pregnant.", "pregnant", due_in_days=150,
            conditions=("cardiac",)),
    Example("fertility", "gp", _KENT, "Two years trying to conceive.", "planning-pregnancy",
            prior_approval_reference="KM-PA-2041"),
    Example("contraception", "gp", _KENT, "Would like a coil fitted."),
    Example("pessary", "gp", _KENT, "Prolapse symptoms; pessary fitting.",
            birth_date="1968-02-11"),
    Example("menopause", "gp", _KENT, "Hot flushes and poor sleep; HRT review.",
            birth_date="1974-08-22"),
    Example("cervical-screening", "gp", _KENT, "Overdue cervical screening."),
    Example("menstrual", "gp", _KENT, "Heavy periods for a year."),
    Example("pre-conception", "gp", _KENT, "Planning a pregnancy; has epilepsy.",
            "planning-pregnancy"),
    Example("breast-pain", "gp", _KENT, "Breast pain for three months, no lump."),
    Example("sti", "gp", _KENT, "STI testing and advice."),
)  # fmt: skip


def adapt(
    official: dict[str, Any], example: Example, mapping: BarsMapping, *, on: date
) -> dict[str, Any]:
    """The official example, made into a referral to `example.service`, sent on `on`."""
    bundle = copy.deepcopy(official)
    ns = uuid5(_NAMESPACE, f"{example.service}/{on.isoformat()}")
    sent = datetime.combine(on, time(9, 30), tzinfo=UTC).isoformat()
    entries = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    bundle["id"] = str(uuid5(ns, "bundle"))
    bundle["timestamp"] = sent
    bundle["meta"]["lastUpdated"] = sent

    header = entries[_HEADER]
    header["id"] = str(uuid5(ns, "message"))
    header["definition"] = (
        "https://womens-health-referrals.org/fhir/MessageDefinition/servicerequest-request"
    )
    header["destination"][0]["endpoint"] = f"{mapping.own.service}|{example.service}"
    header["reason"]["coding"][0]["code"] = "new"

    service = entries[_SERVICE]
    service["identifier"] = [{"system": mapping.own.service, "value": example.service}]
    service["name"] = load_directory().services[example.service].name  # type: ignore[index]

    role = entries[_ROLE]
    standard = next(r for r in mapping.referrer_roles if r.role.value == example.role)
    role["code"] = [{"coding": [{"system": standard.system, "code": standard.code}]}]
    role["organization"] = {"reference": _SURGERY}
    entries[_PRACTITIONER]["telecom"].append(
        {"system": "email", "value": "referrals.g82080@example.nhs.uk", "use": "work"}
    )

    patient = entries[_PATIENT]
    patient["identifier"][0]["value"] = "9990000018"  # the official one fails its check digit
    patient["birthDate"] = example.birth_date
    patient["address"][0]["postalCode"] = example.postcode
    patient["address"][0]["text"] = patient["address"][0]["text"].replace(
        "LS10 4YU", example.postcode
    )
    for contact in patient["contact"]:
        for point in contact["telecom"]:
            if point["system"] == "email":
                point["value"] = "julie.jones@example.com"

    request = entries[_REQUEST]
    request["category"][0]["coding"][0].update(code="referral", display="For Referral")
    request["intent"] = "order"
    request["requester"] = {"reference": _ROLE}
    request["note"] = [{"text": example.reason}]
    added = clinical_entries(example.clinical(on), mapping, _PATIENT, ns)
    request["supportingInfo"] = [{"reference": e["fullUrl"]} for e in added]
    bundle["entry"].extend(added)
    return bundle


def write_examples(on: date, folder: Path = EXAMPLES) -> list[Path]:
    official = json.loads(OFFICIAL.read_text())
    mapping = load_mapping()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for example in EXAMPLE_REFERRALS:
        path = folder / f"{example.service}.json"
        bundle = adapt(official, example, mapping, on=on)
        path.write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written
