"""What a clinic's form asks for each step, read into the command the API would send: the
same use case and the same rules behind both doors. A form that does not say enough is
answered with the field to correct (a `StepError`), never half done."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from intake.domain.lifecycle import (
    Accept,
    Book,
    CancelAppointment,
    ClinicCommand,
    Discharge,
    NotContactable,
    RecordAttendance,
    Return,
)
from intake.service_layer.lifecycle import Particulars
from intake.web.pages import first
from shared.clock import LONDON
from shared.contracts import Appointment

# What the worklist says once a step is done, by the action's name.
DONE = {
    "accept": "Referral accepted. Please contact her to arrange her first appointment.",
    "return": "Referral returned.",
    "book": "Appointment booked. She has been told when, how and where.",
    "cancel-appointment": "Appointment cancelled. She has been told; please book another.",
    "attended": "Recorded that she came. Discharge her when her care is complete.",
    "did-not-attend": "Recorded that she did not attend.",
    "not-contactable": "Recorded that she could not be reached; the referrer has been told.",
    "discharge": "Discharged. She and the referrer have been told the outcome.",
}
MODES = {"in-person": "In person", "telephone": "By telephone", "video": "By video call"}
ATTEMPTS_SHOWN = 3  # date fields for attempts to reach her


class StepError(ValueError):
    """What to correct on the form: the field's id and the message beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Asked:
    command: ClinicCommand
    reason_code: str | None = None
    particulars: Particulars = field(default_factory=Particulars)


def read_step(action: str, site: str, fields: dict[str, Any]) -> Asked | None:
    """The step a form asks for, or None for an action there is no such form for."""
    match action:
        case "accept":
            return Asked(Accept(site))
        case "return":
            return Asked(Return(site, "referrer"), first(fields, "reason_code") or None)
        case "book":
            return Asked(Book(site), particulars=Particulars(appointment=_appointment(fields)))
        case "cancel-appointment":
            return Asked(CancelAppointment(site))
        case "attended" | "did-not-attend":
            return Asked(RecordAttendance(site, attended=action == "attended"))
        case "not-contactable":
            tried = [
                _date(fields, f"attempt-{n}", required=n == 1) for n in range(1, ATTEMPTS_SHOWN + 1)
            ]
            attempts = tuple(sorted(t for t in tried if t is not None))
            return Asked(NotContactable(site), particulars=Particulars(attempts=attempts))
        case "discharge":
            referred_to = first(fields, "referred_to").strip()[:200] or None
            return Asked(
                Discharge(site),
                first(fields, "outcome_code") or None,
                Particulars(referred_to=referred_to),
            )
    return None


def _appointment(fields: dict[str, Any]) -> Appointment:
    day = _date(fields, "appointment", required=True)
    assert day is not None
    hours, _, minutes = first(fields, "appointment-time").strip().partition(":")
    try:
        starts = day.replace(hour=int(hours), minute=int(minutes))
    except ValueError as error:
        raise StepError(
            "appointment-time", "Enter the time as hours and minutes, like 14:30"
        ) from error
    try:
        return Appointment(
            starts_at=starts,
            mode=first(fields, "mode"),
            place=first(fields, "place"),
        )
    except ValidationError as error:
        where = str(error.errors()[0]["loc"][0])
        message = "Choose how the appointment is" if where == "mode" else "Enter where it is"
        raise StepError(where, message) from error


def _date(fields: dict[str, Any], name: str, *, required: bool) -> datetime | None:
    """A date from the NHS three-field date input (`name-day`, `name-month`, `name-year`),
    as midnight in London; None when all three are empty and it is not required."""
    parts = [first(fields, f"{name}-{part}").strip() for part in ("day", "month", "year")]
    if not any(parts) and not required:
        return None
    try:
        day, month, year = (int(p) for p in parts)
        return datetime(year, month, day, tzinfo=LONDON)
    except ValueError as error:
        raise StepError(f"{name}-day", "Enter a real date, like 15 3 2027") from error
