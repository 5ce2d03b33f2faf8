"""Sample submissions, and every patient identifier they contain (for the PII scans)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from shared.clock import days_from_today
from shared.contracts import ReferralReceived

# Identifiers used by any test; none may ever appear on a topic or in a log line.
GP_PATIENT = {
    "nhs_number": "9434765919",
    "given_name": "Jane",
    "family_name": "Doeberry",
    "date_of_birth": "1992-04-01",
    "sex_at_birth": "female",
    "postcode": "B1 1AA",
    "email": "jane.doeberry@example.com",
    "mobile": "07700900123",
    "contact_preferences": ["sms", "email"],
}
SELF_PATIENT = {
    "given_name": "Amara",
    "family_name": "Quillfeather",
    "date_of_birth": "1990-02-17",
    "sex_at_birth": "female",
    "postcode": "BS8 1TH",
    "email": "amara.quill@example.org",
    "mobile": "07700900456",
    "contact_preferences": ["email"],
}
FORM_PATIENT = {
    "nhs_number": "4010232137",
    "given_name": "Rosalind",
    "family_name": "Thistlewood",
    "date_of_birth": "1994-09-30",
    "postcode": "SE1 7EH",
    "email": "rosalind.t@example.net",
    "mobile": "07700900789",
}

PATIENT_IDENTIFIERS: tuple[str, ...] = tuple(
    str(patient[field])
    for patient in (GP_PATIENT, SELF_PATIENT, FORM_PATIENT)
    for field in (
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "postcode",
        "email",
        "mobile",
    )
    if field in patient
)


def gp_referral(organisation_code: str = "M85001", **changes: Any) -> dict[str, Any]:
    """The contract's example (a postnatal pelvic health referral from a GP)."""
    body: dict[str, Any] = {
        "service": "pelvic-health",
        "referrer": {
            "role": "gp",
            "name": "Dr Asha Patel",
            "organisation_code": organisation_code,
            "contact_email": "referrals@example-practice.nhs.uk",
        },
        "patient": copy.deepcopy(GP_PATIENT),
        "clinical": {
            "pregnancy_status": "postnatal",
            "expected_delivery_date": None,
            "delivery_date": days_from_today(-141),
            "completed_talking_therapies": None,
            "prior_approval_reference": None,
            "conditions": [],
            "reason": "Urinary incontinence since the birth.",
        },
    }
    return _apply(body, changes)


def self_referral(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": "pelvic-health",
        "referrer": {"role": "self"},
        "patient": copy.deepcopy(SELF_PATIENT),
        "clinical": {
            "pregnancy_status": "pregnant",
            "expected_delivery_date": days_from_today(89),
            "reason": "Pelvic pain in pregnancy.",
        },
    }
    return _apply(body, changes)


def _apply(body: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` keys are dotted paths ("patient.postcode"); a value of ... deletes."""
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = body
        for part in parents:
            node = node[part]
        if value is ...:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return body


def received_event(**changes: Any) -> ReferralReceived:
    """A `ReferralReceived` as intake publishes it (no identifiers), routed by default."""
    values: dict[str, Any] = {
        "correlation_id": str(uuid.uuid4()),
        "referral_id": uuid.uuid4(),
        "tracking_reference": "WHR-2345-6789X",
        "service": "pelvic-health",
        "referrer_role": "gp",
        "referrer_organisation_code": "M85001",
        "age_years": 34,
        "sex_at_birth": "female",
        "postcode_district": "B1",
        "pregnancy_status": "postnatal",
        "delivery_date": days_from_today(-141),  # a new mother: routed on any day it runs
        **changes,
    }
    return ReferralReceived(**values)
