"""The service directory: loaded from YAML, checked by a pydantic schema, never half-loaded.

The router decides with it; the notifier finds each site's notification endpoint in it.

A broken file is refused with an error naming the file, the path inside it and the problem.
`rules_version` is a hash of the file's bytes and the engine's version, so a decision says
exactly which content made it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts import PregnancyStatus, ReferrerRole, ServiceCode
from shared.errors import ConfigurationError
from shared.operator_files import read_yaml, validated
from shared.working_days import add_working_days

ENGINE_VERSION = "1"
DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "directory.yaml"

Prerequisite = Literal["completed-talking-therapies", "prior-approval-reference"]
Coverage = Literal["england", "kent-and-medway"]
PostcodeArea = Annotated[str, Field(pattern=r"^[A-Z]{1,2}$")]
PostcodeDistrict = Annotated[str, Field(pattern=r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")]
_AREA = re.compile(r"^([A-Z]{1,2})")


class DirectoryError(ConfigurationError):
    """The directory cannot be used; nothing of it was loaded."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Setting(_Data):
    value: int = Field(ge=0)
    local_policy: str | None = None


class Policy(_Data):
    postnatal_window_months: Setting
    due_date_grace_days: Setting


class Areas(_Data):
    postcode_areas: tuple[PostcodeArea, ...] = ()
    postcode_districts: tuple[PostcodeDistrict, ...] = ()


class Regions(_Data):
    england: Areas
    elsewhere: Areas


class ExpectedWait(_Data):
    """The wait a site publishes, from referral to first appointment, and when it was set:
    shown to a woman checking her referral as a rough figure, never a promise."""

    weeks: int = Field(ge=0, le=104)
    as_of: date
    local_policy: str | None = None


class AfterMissed(_Data):
    """After a missed appointment: may the clinic offer another, or only discharge her?"""

    value: Literal["offer-another", "discharge"]
    local_policy: str | None = None


class Reminder(_Data):
    """How long before a booked appointment she is reminded of it (none when it was booked
    closer to the day than this: she has just been told)."""

    hours_before: int = Field(ge=1, le=24 * 28)
    local_policy: str | None = None


class Promise(_Data):
    """How long something may wait before it is overdue and escalated: in working days (not
    weekends, not England's bank holidays), or in calendar weeks for the long promises."""

    working_days: int | None = Field(default=None, ge=1, le=100)
    weeks: int | None = Field(default=None, ge=1, le=104)
    local_policy: str | None = None

    @model_validator(mode="after")
    def says_one_length(self) -> Promise:
        if (self.working_days is None) == (self.weeks is None):
            raise ValueError("a promise is in working_days or in weeks, one of them")
        return self

    def due(self, start: datetime) -> datetime:
        if self.weeks is not None:
            return start + timedelta(weeks=self.weeks)
        return add_working_days(start, self.working_days or 0)

    @property
    def words(self) -> str:
        """'5 working days', '18 weeks': as a message names the promise."""
        if self.weeks is not None:
            return f"{self.weeks} weeks"
        return f"{self.working_days} working days"


class Promises(_Data):
    accept: Promise = Field(description="From routing to the clinic accepting or returning it.")
    book: Promise = Field(description="From acceptance to her appointment being booked.")
    appointment: Promise = Field(description="From the decision to route it to her attending.")
    triage: Promise = Field(description="From needing triage to a person deciding.")


class Escalation(_Data):
    """When a promise is broken: the woman is told without asking, but at most once in this
    many days for one referral, never a flood."""

    tell_her_every_days: int = Field(ge=1, le=365)
    local_policy: str | None = None


class Retention(_Data):
    """How long a finished referral's patient details are kept before they are erased (the
    record of what happened stays, without them)."""

    erase_details_after_days: int = Field(ge=1, le=3650)
    local_policy: str | None = None


class PromisesOverride(_Data):
    accept: Promise | None = None
    book: Promise | None = None
    appointment: Promise | None = None
    triage: Promise | None = None


class Journey(_Data):
    """A service's local policy after acceptance: what follows a missed appointment, how a
    woman changes an appointment, how long the wait is. A service may override each."""

    after_missed_appointment: AfterMissed
    contact: str = Field(min_length=1, description="How she changes or asks about it.")
    expected_wait: ExpectedWait
    appointment_reminder: Reminder


class JourneyOverride(_Data):
    after_missed_appointment: AfterMissed | None = None
    contact: str | None = None
    expected_wait: ExpectedWait | None = None
    appointment_reminder: Reminder | None = None


class Site(_Data):
    id: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    name: str
    serves: Areas
    expected_wait: ExpectedWait | None = Field(
        default=None, description="The site's own published wait, if it has one."
    )
    promises: PromisesOverride = PromisesOverride()
    webhook: Annotated[str, Field(pattern=r"^https://")] | None = Field(
        default=None, description="Where the notifier posts referrals routed here (signed)."
    )
    review: str | None = None
    local_policy: str | None = None


class Referrers(_Data):
    allowed: tuple[ReferrerRole, ...] = Field(min_length=1)
    local_policy: str | None = None


class Eligibility(_Data):
    pregnancy_statuses: tuple[PregnancyStatus, ...] = ()


class UrgentConditions(_Data):
    values: tuple[str, ...]
    local_policy: str | None = None


class Service(_Data):
    name: str
    group: str | None = None
    rule_ids: dict[str, Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]] = {}
    referrers: Referrers
    eligibility: Eligibility = Eligibility()
    prerequisites: tuple[Prerequisite, ...] = ()
    urgent_conditions: UrgentConditions | None = None
    coverage: Coverage
    messages: dict[str, str]
    signposting: dict[str, tuple[str, ...]]
    sites: tuple[Site, ...] = Field(min_length=1)
    journey: JourneyOverride = JourneyOverride()
    promises: PromisesOverride = PromisesOverride()

    @model_validator(mode="after")
    def every_rule_has_words(self) -> Service:
        needed = {"referrer", "outside"} | set(self.prerequisites)
        if self.eligibility.pregnancy_statuses:
            needed.add("eligibility")
        if self.coverage == "england":
            needed.add("no-site")
        for table in ("messages", "signposting"):
            missing = sorted(needed - set(getattr(self, table)))
            if missing:
                raise ValueError(f"{table} lacks {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def each_place_has_one_site(self) -> Service:
        for kind in ("postcode_areas", "postcode_districts"):
            seen: dict[str, str] = {}
            for site in self.sites:
                for place in getattr(site.serves, kind):
                    if place in seen:
                        raise ValueError(f"{place} is served by both {seen[place]} and {site.id}")
                    seen[place] = site.id
        return self


class ReturnReason(_Data):
    """Why a clinic returns a referral: where it goes next, and the words the referrer (and a
    woman who referred herself) are told."""

    to: Literal["referrer", "triage"]
    message: str


class DischargeOutcome(_Data):
    """How her care ended, in the words the referrer (and she) are told; `refers_on`: the
    clinic names the service it referred her on to."""

    message: str
    refers_on: bool = False


ReasonCode = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,60}$")]


class Directory(_Data):
    policy: Policy
    regions: Regions
    kent_and_medway: Areas
    services: dict[ServiceCode, Service]
    return_reasons: dict[ReasonCode, ReturnReason] = Field(min_length=1)
    cancel_reasons: dict[ReasonCode, str] = Field(min_length=1)
    discharge_outcomes: dict[ReasonCode, DischargeOutcome] = Field(min_length=1)
    journey: Journey
    promises: Promises
    escalation: Escalation
    retention: Retention
    rules_version: str = ""

    @model_validator(mode="after")
    def every_service_is_listed(self) -> Directory:
        missing = sorted(set(ServiceCode) - set(self.services))
        if missing:
            raise ValueError(f"services lacks {', '.join(missing)}")
        return self

    def journey_for(self, service: ServiceCode | str, site: str | None = None) -> Journey:
        """The journey policy for a service (and site): its overrides over the defaults."""
        chosen = self.services[ServiceCode(service)]
        overrides = {
            name: getattr(chosen.journey, name)
            for name in JourneyOverride.model_fields
            if getattr(chosen.journey, name) is not None
        }
        own = next((s.expected_wait for s in chosen.sites if s.id == site), None)
        if own is not None:
            overrides["expected_wait"] = own
        return self.journey.model_copy(update=overrides)

    def promises_for(self, service: ServiceCode | str, site: str | None = None) -> Promises:
        """The promises for a service (and site): the site's over the service's over the
        defaults, each promise on its own."""
        chosen = self.services[ServiceCode(service)]
        layers = [chosen.promises, *(s.promises for s in chosen.sites if s.id == site)]
        overrides = {
            name: getattr(layer, name)
            for layer in layers
            for name in PromisesOverride.model_fields
            if getattr(layer, name) is not None
        }
        return self.promises.model_copy(update=overrides)

    def site_for(self, service: ServiceCode, district: str) -> Site | None:
        """The site serving a postcode district: a listed district beats a listed area."""
        sites = self.services[service].sites
        for site in sites:
            if district in site.serves.postcode_districts:
                return site
        area = area_of(district)
        for site in sites:
            if area in site.serves.postcode_areas:
                return site
        return None

    def region_of(self, district: str) -> Literal["england", "elsewhere"] | None:
        area = area_of(district)
        names: tuple[Literal["england", "elsewhere"], ...] = ("england", "elsewhere")
        for name in names:
            if area in getattr(self.regions, name).postcode_areas:
                return name
        return None


def area_of(district: str) -> str:
    match = _AREA.match(district)
    return match.group(1) if match else district


def load_directory(path: Path = DEFAULT_DIRECTORY) -> Directory:
    raw, data = read_yaml(path, DirectoryError)
    data.pop("rules_version", None)
    version = "sha256:" + hashlib.sha256(ENGINE_VERSION.encode() + b"\0" + raw).hexdigest()
    return validated(Directory, {**data, "rules_version": version}, path, DirectoryError)
