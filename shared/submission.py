"""Referral submission v1 (docs/CONTRACTS.md): the shape GP systems POST and
self-referral forms emit, with every validation rule. Intake and `router explain` both use it.

Validation dates ("in the past", "not in the future") are judged against `today`, taken from
the validation context (`{"today": date}`) so that an explicit as-of date gives the same answer.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError
from stdnum.gb import nhs

from shared.contracts import (
    MAX_AGE_YEARS,
    ContactChannel,
    OdsCode,
    PregnancyStatus,
    ReferrerRole,
    ServiceCode,
    SexAtBirth,
    unsafe_character,
)

# UK postcode: outward code (area + district) and inward code; GIR 0AA is the one oddity.
_POSTCODE = re.compile(r"^(?:([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})|(GIR) ?(0AA))$")
_UK_MOBILE = re.compile(r"^(?:\+44|0)7\d{9}$")

# Sanity bounds, not eligibility (the directory decides that): they keep every accepted
# submission storable and routable, so nothing accepted can fail later.
MAX_DUE_DATE_DAYS = 310  # a due date up to ~44 weeks ahead (a pregnancy is ~40)
MAX_CONDITIONS = 20
# Bidirectional-text controls: they can make a name or message display as something else.
_NAME_PUNCTUATION = frozenset(" '\u2019-.")

MessageDetail = Literal["discreet", "full"]


def _today(info: ValidationInfo) -> date:
    context = info.context or {}
    today = context.get("today")
    return today if isinstance(today, date) else date.today()


def _nhs_number(value: str) -> str:
    compact = nhs.compact(value)
    if not nhs.is_valid(compact):
        raise PydanticCustomError(
            "nhs_number", "This is not a valid NHS number: 10 digits with a correct check digit."
        )
    return compact


def _postcode(value: str) -> str:
    normalised = re.sub(r"\s+", "", value.upper())
    match = _POSTCODE.match(normalised)
    if match is None:
        raise PydanticCustomError("postcode", "This is not a valid UK postcode.")
    outward, inward = (match.group(1), match.group(2)) if match.group(1) else ("GIR", "0AA")
    return f"{outward} {inward}"


def _mobile(value: str) -> str:
    compact = re.sub(r"[\s()-]", "", value)
    if not _UK_MOBILE.match(compact):
        raise PydanticCustomError("mobile", "This is not a UK mobile number (07… or +447…).")
    return compact


def _line(value: str) -> str:
    if unsafe_character(value, multiline=False):
        raise PydanticCustomError("text", "Use letters, numbers and punctuation only, on one line.")
    return value


def _paragraphs(value: str) -> str:
    if unsafe_character(value, multiline=True):
        raise PydanticCustomError("text", "Use letters, numbers and punctuation only.")
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _name(value: str) -> str:
    if not all(
        unicodedata.category(c)[0] in "LM" or c in _NAME_PUNCTUATION for c in value
    ) or not any(unicodedata.category(c)[0] == "L" for c in value):
        raise PydanticCustomError("name", "Use letters, spaces, hyphens and apostrophes only.")
    return value


NhsNumber = Annotated[str, AfterValidator(_nhs_number)]
Postcode = Annotated[str, AfterValidator(_postcode)]
UkMobile = Annotated[str, AfterValidator(_mobile)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_name)]
Line = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_line)]


def _invalid(field: str, message: str, **context: str) -> PydanticCustomError:
    """An error raised by a cross-field rule, naming the field it is about."""
    return PydanticCustomError("invalid_field", message, {"field": field, **context})


# Error types whose messages never quote the submitted value: ours, and pydantic's that say
# only what was expected. Any other message (an email library's, a UUID parser's) may quote
# part of the value, so it is replaced by a plain one of our own.
_OWN_MESSAGES = frozenset(
    {"nhs_number", "postcode", "organisation_code", "mobile", "invalid_field", "text", "name"}
)
_PLAIN_PYDANTIC = frozenset(
    {
        "missing",
        "extra_forbidden",
        "string_type",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
        "too_short",
        "too_long",
        "literal_error",
        "enum",
        "bool_type",
        "bool_parsing",
        "date_type",
        "date_parsing",
        "date_from_datetime_parsing",
        "date_from_datetime_inexact",
        "model_type",
        "model_attributes_type",
        "dict_type",
        "list_type",
        "tuple_type",
        "int_type",
        "int_parsing",
        "uuid_type",
        "json_type",
    }
)


def _plain_message(error: Any, path: list[str]) -> str:
    if error["type"] in _OWN_MESSAGES or error["type"] in _PLAIN_PYDANTIC:
        return str(error["msg"])
    if path and path[-1].endswith("email"):
        return "Enter an email address in the correct format, like name@example.com"
    if error["type"] == "json_invalid":
        return "The body is not valid JSON."
    if error["type"] == "uuid_parsing":
        return "Input should be a valid UUID."
    return "This value is not valid."


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """Each failing field with a plain message, without the submitted value (it may be
    patient data, and errors are logged and returned)."""
    found = []
    for e in error.errors(include_input=False, include_url=False, include_context=True):
        path = [str(part) for part in e["loc"]]
        if e["type"] == "invalid_field":
            path.append(e["ctx"]["field"])
        found.append({"field": ".".join(path) or "body", "message": _plain_message(e, path)})
    return found


def describe(error: ValidationError) -> str:
    """Every failing field in one line, without the submitted values (for dead letters)."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in field_errors(error))


def postcode_district(postcode: str) -> str:
    """The outward code ('B1' of 'B1 1AA'): enough to route, too coarse to identify."""
    return _postcode(postcode).split(" ")[0]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Referrer(_Strict):
    role: ReferrerRole
    name: Name | None = None
    organisation_code: OdsCode | None = None
    contact_email: EmailStr | None = Field(
        default=None,
        description="Where the referrer is told if the referral is rejected; required for a "
        "professional referral.",
    )

    @model_validator(mode="after")
    def professionals_identify_themselves(self) -> Referrer:
        if self.role is not ReferrerRole.SELF:
            fields = ("name", "organisation_code", "contact_email")
            missing = [f for f in fields if getattr(self, f) is None]
            if missing:
                raise _invalid(
                    missing[0],
                    "A professional referral needs the referrer's {fields}.",
                    fields=" and ".join(f.replace("_", " ") for f in missing),
                )
        return self


class PostalAddress(_Strict):
    """Where letters go; the postcode is the patient's own (`patient.postcode`)."""

    lines: tuple[Line, ...] = Field(
        min_length=1, max_length=5, description="House and street first, then town."
    )


class Patient(_Strict):
    nhs_number: NhsNumber | None = None
    given_name: Name
    family_name: Name
    date_of_birth: date
    sex_at_birth: SexAtBirth
    postcode: Postcode
    email: EmailStr | None = None
    mobile: UkMobile | None = None
    address: PostalAddress | None = Field(
        default=None, description="Needed for contact by letter (added in v1, optional)."
    )
    contact_preferences: tuple[ContactChannel, ...] = Field(default=(), max_length=3)
    message_detail: MessageDetail = Field(
        default="discreet",
        description="'full' only if the patient asked for messages that name her condition.",
    )

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [(None, "[patient details redacted]")]  # a stray repr in a log leaks nothing

    @model_validator(mode="after")
    def born_in_the_past(self, info: ValidationInfo) -> Patient:
        today = _today(info)
        if self.date_of_birth >= today:
            raise _invalid("date_of_birth", "The date of birth must be in the past.")
        oldest = today.replace(year=today.year - MAX_AGE_YEARS, day=min(today.day, 28))
        if self.date_of_birth < oldest:
            raise _invalid("date_of_birth", "Check the year of the date of birth.")
        return self

    @model_validator(mode="after")
    def preferred_channels_are_reachable(self) -> Patient:
        needs = {"sms": self.mobile, "email": self.email, "letter": self.address}
        details = {
            "sms": "a mobile number",
            "email": "an email address",
            "letter": "a postal address",
        }
        for channel in self.contact_preferences:
            if needs[channel] is None:
                detail = details[channel]
                raise _invalid(
                    "contact_preferences",
                    "Contact by {channel} needs {detail}.",
                    channel=channel,
                    detail=detail,
                )
        return self


class Clinical(_Strict):
    pregnancy_status: PregnancyStatus
    expected_delivery_date: date | None = None
    delivery_date: date | None = None
    completed_talking_therapies: bool | None = None
    prior_approval_reference: (
        Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_line)] | None
    ) = None
    conditions: tuple[Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$")], ...] = Field(
        default=(), max_length=MAX_CONDITIONS
    )
    reason: Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_paragraphs)]

    @model_validator(mode="after")
    def dates_go_with_status(self, info: ValidationInfo) -> Clinical:
        pregnant = self.pregnancy_status is PregnancyStatus.PREGNANT
        postnatal = self.pregnancy_status is PregnancyStatus.POSTNATAL
        if pregnant != (self.expected_delivery_date is not None):
            raise _invalid(
                "expected_delivery_date",
                "An expected delivery date is given for a pregnancy, and only then.",
            )
        if postnatal != (self.delivery_date is not None):
            raise _invalid(
                "delivery_date", "A delivery date is given after a birth, and only then."
            )
        today = _today(info)
        if self.delivery_date is not None and self.delivery_date > today:
            raise _invalid("delivery_date", "The delivery date cannot be in the future.")
        due = self.expected_delivery_date
        if due is not None and not (
            today - timedelta(days=MAX_DUE_DATE_DAYS)
            <= due
            <= today + timedelta(days=MAX_DUE_DATE_DAYS)
        ):
            raise _invalid("expected_delivery_date", "Check the expected delivery date.")
        return self


class ReferralSubmission(_Strict):
    """Version 1. Add fields, never rename or repurpose one."""

    service: ServiceCode
    referrer: Referrer
    patient: Patient
    clinical: Clinical

    @model_validator(mode="after")
    def professional_referrals_carry_nhs_number(self) -> ReferralSubmission:
        if self.referrer.role is not ReferrerRole.SELF and self.patient.nhs_number is None:
            raise _invalid(
                "patient.nhs_number", "A professional referral needs the patient's NHS number."
            )
        return self

    @model_validator(mode="after")
    def the_woman_can_be_reached(self) -> ReferralSubmission:
        """Whoever refers herself is told every outcome, so she must be reachable: by text,
        email or letter."""
        patient = self.patient
        reachable = patient.email or patient.mobile or patient.address
        if self.referrer.role is ReferrerRole.SELF and not reachable:
            raise _invalid(
                "patient.mobile",
                "Give a mobile number, an email address or a postal address, so that we can "
                "tell you what happens next.",
            )
        return self

    @model_validator(mode="after")
    def dates_in_order(self) -> ReferralSubmission:
        born = self.patient.date_of_birth
        for name in ("delivery_date", "expected_delivery_date"):
            when = getattr(self.clinical, name)
            if when is not None and when <= born:
                raise _invalid(f"clinical.{name}", "This date must come after the date of birth.")
        return self
