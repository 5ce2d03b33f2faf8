"""The committed BaRS sample messages, made fresh for a test: another patient, a new message
id, and their dates moved to today."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any
from uuid import uuid4

from devstack.bars_examples import EXAMPLES
from devstack.samples import GP_PATIENT
from shared.clock import today

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def fresh(service: str, *, patient: dict[str, Any] | None = None) -> dict[str, Any]:
    """A committed sample with another patient, a new message id and its dates moved to
    today (they were written relative to the day it was made)."""
    bundle: dict[str, Any] = json.loads((EXAMPLES / f"{service}.json").read_text())
    shift = today() - datetime.fromisoformat(bundle["timestamp"]).date()
    bundle["entry"][0]["resource"]["id"] = str(uuid4())
    bundle["id"] = str(uuid4())
    for entry in bundle["entry"]:
        found = entry["resource"]
        if found["resourceType"] == "Observation" and _DATE.match(found.get("valueDateTime", "")):
            moved = date.fromisoformat(found["valueDateTime"][:10]) + shift
            found["valueDateTime"] = moved.isoformat()
        if found["resourceType"] == "Patient":
            put_patient(found, patient or GP_PATIENT)
    return bundle


def put_patient(resource: dict[str, Any], patient: dict[str, Any]) -> None:
    resource["identifier"][0]["value"] = patient["nhs_number"]
    resource["name"] = [
        {"use": "official", "family": patient["family_name"], "given": [patient["given_name"]]}
    ]
    resource["birthDate"] = patient["date_of_birth"]
    resource["address"] = [{"use": "home", "line": ["1 Test Street"], "postalCode": "ME14 1XQ"}]
    resource["telecom"] = [
        {"system": "phone", "use": "mobile", "value": patient["mobile"]},
        {"system": "email", "value": patient["email"]},
    ]
    resource["contact"] = []
