"""What proves a woman is the person a referral is about, on the pages she uses without an
account: her reference, her date of birth and her postcode, all three. Compared in constant
time, so that neither the answer nor its timing says which part was wrong."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date
from typing import Any

from intake.domain.tracking import canonical_tracking_reference


@dataclass(frozen=True)
class Proof:
    tracking_reference: str  # as canonical_tracking_reference gives it
    date_of_birth: date
    postcode: str


def proof_of(tracking_reference: str, date_of_birth: date, postcode: str) -> Proof | None:
    """Her proof, or None when the reference cannot be one of ours (nothing to look up)."""
    reference = canonical_tracking_reference(tracking_reference.strip())
    return Proof(reference, date_of_birth, postcode) if reference else None


def proves(proof: Proof, submission: dict[str, Any] | None) -> bool:
    """Does the proof match the referral's submission (both parts, always both compared)?"""
    patient = (submission or {}).get("patient") or {}
    matches = [
        hmac.compare_digest(str(patient.get("date_of_birth", "")), proof.date_of_birth.isoformat()),
        hmac.compare_digest(_compact(str(patient.get("postcode", ""))), _compact(proof.postcode)),
    ]
    return submission is not None and all(matches)


def _compact(postcode: str) -> str:
    return "".join(postcode.split()).upper()
