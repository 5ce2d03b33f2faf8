"""Turn the form's fields into a v1 submission, and validation errors into form errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from intake.public_pages.form_pages import LABELS
from intake.web.pages import anchor
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
    "patient.address.line_1",
    "patient.address.line_2",
    "patient.address.town",
    "clinical.pregnancy_status",
    "clinical.expected_delivery_date",
    "clinical.delivery_date",
    "clinical.reason",
)
DATE_FIELDS = ("patient.date_of_birth", "clinical.expected_delivery_date", "clinical.delivery_date")
DATE_PARTS = ("day", "month", "year")  # the NHS date input's three fields: `<field>-day`, ...
PREFERENCES = "patient.contact_preferences"
FORM_ID = "form_id"  # names one filling-in of the form, so that sending it twice is one referral
ADDRESS_LINES = ("patient.address.line_1", "patient.address.line_2", "patient.address.town")
# What a re-shown page may echo back: no field of the form is longer (a longer value is
# refused anyway, and is not rendered back whole).
_LONGEST = {"clinical.reason": 4000}
_LONG = 100


def dates_from_parts(parts: Mapping[str, str]) -> dict[str, str]:
    """Each date of the form as the submission takes it (ISO), from the three fields she
    filled in; one she left empty is empty, and one that is not a date stays as she typed
    it, for validation to refuse with the field's own message."""
    dates: dict[str, str] = {}
    for field in DATE_FIELDS:
        day, month, year = (parts.get(f"{field}-{p}", "").strip() for p in DATE_PARTS)
        if not (day or month or year):
            dates[field] = ""
        elif day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4:
            dates[field] = f"{year}-{int(month):02d}-{int(day):02d}"
        else:
            dates[field] = f"{day}/{month}/{year}"
    return dates


def submission_data(values: Mapping[str, str], preferences: Sequence[str]) -> dict[str, Any]:
    """Nested submission data; empty fields are left out, as if not given."""
    data: dict[str, Any] = {"referrer": {"role": "self"}, "patient": {}, "clinical": {}}
    for path in TEXT_FIELDS:
        value = values.get(path, "").strip()
        if value and path not in ADDRESS_LINES:
            _put(data, path, value)
    lines = [values.get(path, "").strip() for path in ADDRESS_LINES]
    if any(lines):
        _put(data, "patient.address.lines", [line for line in lines if line])
    _put(data, PREFERENCES, list(preferences))
    return data


def shown_back(values: Mapping[str, str]) -> dict[str, str]:
    """The answers to show again with the errors, each no longer than its field allows."""
    return {path: value[: _LONGEST.get(path, _LONG)] for path, value in values.items()}


def form_errors(error: ValidationError) -> list[dict[str, str]]:
    """Errors keyed by the form field they belong to, worded for the person filling it in."""
    found: list[dict[str, str]] = []
    for e in field_errors(error):
        field = _form_field(e["field"])
        message = e["message"]
        if field in DATE_FIELDS and message.startswith("Input should be a valid date"):
            label = LABELS.get(field, "the date")
            message = f"{label[0].upper()}{label[1:]} must be a real date."
        elif message == "Field required" or message.startswith("Input should be"):
            message = f"Enter {LABELS.get(field, 'this')}."
        if not any(f["field"] == field for f in found):  # one message per field
            where = anchor(field) + ("-day" if field in DATE_FIELDS else "")
            found.append({"field": field, "message": message, "anchor": where})
    return found


def _form_field(path: str) -> str:
    # "patient.contact_preferences.0" -> "patient.contact_preferences"
    parts = path.split(".")
    if parts[:2] == ["patient", "address"]:
        return "patient.address.line_1"  # the address's errors are shown at its first line
    return ".".join(parts[:2]) if parts[0] in {"patient", "clinical"} else parts[0]


def _put(data: dict[str, Any], path: str, value: object) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
