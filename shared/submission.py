"""Referral submission v1 (../shared/handbook/CONTRACTS.md): the shape GP systems POST and
self-referral forms emit, with every validation rule. Intake and `router explain` both use it.

Validation dates ("in the past", "not in the future") are judged against `today`, taken from
the validation context (`{"today": date}`) so that an explicit as-of date gives the same answer.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

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

from shared.contracts import PregnancyStatus, ReferrerRole, ServiceCode

# UK postcode: outward code (area + district) and inward code; GIR 0AA is the one oddity.
_POSTCODE = re.compile(r"^(?:([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})|(GIR) ?(0AA))$")
_ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")
_UK_MOBILE = re.compile(r"^(?:\+44|0)7\d{9}$")

SexAtBirth = Literal["female", "male", "intersex", "not-known"]
ContactChannel = Literal["sms", "email", "letter"]
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


def _ods_code(value: str) -> str:
    value = value.strip().upper()
    if not _ODS_CODE.match(value):
        raise PydanticCustomError(
            "organisation_code", "An ODS organisation code is 3 to 10 letters and digits."
        )
    return value


def _mobile(value: str) -> str:
    compact = re.sub(r"[\s()-]", "", value)
    if not _UK_MOBILE.match(compact):
        raise PydanticCustomError("mobile", "This is not a UK mobile number (07… or +447…).")
    return compact


NhsNumber = Annotated[str, AfterValidator(_nhs_number)]
Postcode = Annotated[str, AfterValidator(_postcode)]
OdsCode = Annotated[str, AfterValidator(_ods_code)]
UkMobile = Annotated[str, AfterValidator(_mobile)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


def _invalid(field: str, message: str, **context: str) -> PydanticCustomError:
    """An error raised by a cross-field rule, naming the field it is about."""
    return PydanticCustomError("invalid_field", message, {"field": field, **context})


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """Each failing field with a plain message, without the submitted value (it may be
    patient data, and errors are logged and returned)."""
    found = []
    for e in error.errors(include_input=False, include_url=False):
        path = [str(part) for part in e["loc"]]
        if e["type"] == "invalid_field":
            path.append(e["ctx"]["field"])
        found.append({"field": ".".join(path) or "body", "message": e["msg"]})
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
    contact_email: EmailStr | None = None

    @model_validator(mode="after")
    def professionals_identify_themselves(self) -> Referrer:
        if self.role is not ReferrerRole.SELF:
            missing = [f for f in ("name", "organisation_code") if getattr(self, f) is None]
            if missing:
                raise _invalid(
                    missing[0],
                    "A professional referral needs the referrer's {fields}.",
                    fields=" and ".join(missing),
                )
        return self


class Patient(_Strict):
    nhs_number: NhsNumber | None = None
    given_name: Name
    family_name: Name
    date_of_birth: date
    sex_at_birth: SexAtBirth
    postcode: Postcode
    email: EmailStr | None = None
    mobile: UkMobile | None = None
    contact_preferences: tuple[ContactChannel, ...] = ()
    message_detail: MessageDetail = Field(
        default="discreet",
        description="'full' only if the patient asked for messages that name her condition.",
    )

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [(None, "[patient details redacted]")]  # a stray repr in a log leaks nothing

    @model_validator(mode="after")
    def born_in_the_past(self, info: ValidationInfo) -> Patient:
        if self.date_of_birth >= _today(info):
            raise _invalid("date_of_birth", "The date of birth must be in the past.")
        return self

    @model_validator(mode="after")
    def preferred_channels_are_reachable(self) -> Patient:
        needs = {"sms": self.mobile, "email": self.email}
        for channel in self.contact_preferences:
            if channel in needs and needs[channel] is None:
                detail = "mobile number" if channel == "sms" else "email address"
                raise _invalid(
                    "contact_preferences",
                    "Contact by {channel} needs a {detail}.",
                    channel=channel,
                    detail=detail,
                )
        return self


class Clinical(_Strict):
    pregnancy_status: PregnancyStatus
    expected_delivery_date: date | None = None
    delivery_date: date | None = None
    completed_talking_therapies: bool | None = None
    prior_approval_reference: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    conditions: tuple[Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$")], ...] = ()
    reason: Annotated[str, Field(min_length=1, max_length=4000)]

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
        if self.delivery_date is not None and self.delivery_date > _today(info):
            raise _invalid("delivery_date", "The delivery date cannot be in the future.")
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
    def dates_in_order(self) -> ReferralSubmission:
        born = self.patient.date_of_birth
        for name in ("delivery_date", "expected_delivery_date"):
            when = getattr(self.clinical, name)
            if when is not None and when <= born:
                raise _invalid(f"clinical.{name}", "This date must come after the date of birth.")
        return self
