"""Turn the form's fields into a v1 submission, and validation errors into form errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from intake.api.form_pages import LABELS
from shared.submission import field_errors

TEXT_FIELDS = (
    "service",
    "patient.given_name",
    "patient.family_name",
    "patient.date_of_birth",
    "patient.nhs_number",
    "patient.sex_at_birth",
    "patient.postcode",
    "patient.email",
    "patient.mobile",
    "clinical.pregnancy_status",
    "clinical.expected_delivery_date",
    "clinical.delivery_date",
    "clinical.reason",
)
PREFERENCES = "patient.contact_preferences"


def submission_data(values: Mapping[str, str], preferences: Sequence[str]) -> dict[str, Any]:
    """Nested submission data; empty fields are left out, as if not given."""
    data: dict[str, Any] = {"referrer": {"role": "self"}, "patient": {}, "clinical": {}}
    for path in TEXT_FIELDS:
        value = values.get(path, "").strip()
        if value:
            _put(data, path, value)
    _put(data, PREFERENCES, list(preferences))
    return data


def form_errors(error: ValidationError) -> list[dict[str, str]]:
    """Errors keyed by the form field they belong to, worded for the person filling it in."""
    found: list[dict[str, str]] = []
    for e in field_errors(error):
        field = _form_field(e["field"])
        message = e["message"]
        if message == "Field required" or message.startswith("Input should be"):
            message = f"Enter {LABELS.get(field, 'this')}."
        if not any(f["field"] == field for f in found):  # one message per field
            found.append({"field": field, "message": message, "anchor": anchor(field)})
    return found


def anchor(field: str) -> str:
    return field.replace(".", "-")


def _form_field(path: str) -> str:
    # "patient.contact_preferences.0" -> "patient.contact_preferences"
    parts = path.split(".")
    return ".".join(parts[:2]) if parts[0] in {"patient", "clinical"} else parts[0]


def _put(data: dict[str, Any], path: str, value: object) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
