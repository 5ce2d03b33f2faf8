"""Event contracts on Kafka: one module, pydantic v2 models, each with its schema version.

Events are named in the past tense and carry `event_id` (stable: a duplicate publish is
harmless), `occurred_at`, `schema_version` and `correlation_id`. No event carries a name,
NHS number, full date of birth, full postcode or contact detail in clear: ops may watch
every topic.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from shared import topics


class ReferrerRole(StrEnum):
    SELF = "self"
    GP = "gp"
    PRACTICE_NURSE = "practice-nurse"
    MIDWIFE = "midwife"
    HEALTH_VISITOR = "health-visitor"
    CONSULTANT_OBSTETRICIAN = "consultant-obstetrician"
    OTHER_PROFESSIONAL = "other-professional"


class ServiceCode(StrEnum):
    PELVIC_HEALTH = "pelvic-health"
    THRIVE = "thrive"
    MATERNAL_MEDICINE = "maternal-medicine"
    FERTILITY = "fertility"
    CONTRACEPTION = "contraception"
    PESSARY = "pessary"
    MENOPAUSE = "menopause"
    CERVICAL_SCREENING = "cervical-screening"
    MENSTRUAL = "menstrual"
    PRE_CONCEPTION = "pre-conception"
    BREAST_PAIN = "breast-pain"
    STI = "sti"


class PregnancyStatus(StrEnum):
    PREGNANT = "pregnant"
    POSTNATAL = "postnatal"
    PLANNING_PREGNANCY = "planning-pregnancy"
    NOT_PREGNANT = "not-pregnant"


class Outcome(StrEnum):
    ROUTED = "routed"
    REJECTED = "rejected"
    NEEDS_TRIAGE = "needs-triage"


class ReferralState(StrEnum):
    """Where a referral stands (its state machine: `intake.domain.lifecycle`)."""

    RECEIVED = "received"
    ROUTED = "routed"
    REJECTED = "rejected"
    NEEDS_TRIAGE = "needs-triage"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    BOOKED = "booked"
    ATTENDED = "attended"
    DID_NOT_ATTEND = "did-not-attend"
    NOT_CONTACTABLE = "not-contactable"
    DISCHARGED = "discharged"


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Envelope fields common to every event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TOPIC: ClassVar[topics.Topic]
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: UUID = Field(default_factory=uuid4, description="Stable id; consumers dedupe on it.")
    occurred_at: datetime = Field(default_factory=_now, description="When it happened (UTC).")
    schema_version: int = Field(default=1, description="Version of this event's schema.")
    correlation_id: str = Field(
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
        description="Follows one referral through all three services.",
    )


class SelfReferralSubmitted(Event):
    """A self-referral form's submission. The v1 submission travels sealed to intake's public
    key (`shared.sealed`): the topic is safe to watch, and a form needs only the public key."""

    TOPIC: ClassVar[topics.Topic] = topics.SELF_REFERRAL_SUBMITTED
    source: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description="Which form sent it.")
    referral_id: UUID | None = Field(
        default=None, description="Set by a form that shows the reference at once; else null."
    )
    tracking_reference: str | None = Field(default=None, description="Goes with referral_id.")
    sealed_submission: str = Field(description="Base64 sealed box of the v1 submission JSON.")


MAX_AGE_YEARS = 130
SexAtBirth = Literal["female", "male", "intersex", "not-known"]
# Strings on events are short codes: a pattern keeps out control characters (NUL included)
# and free text, so that an event a consumer can read it can also store.
TrackingReference = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,20}$")]
ConditionCode = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$")]
_ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")


def _ods_code(value: str) -> str:
    value = value.strip().upper()
    if not _ODS_CODE.match(value):
        raise PydanticCustomError(
            "organisation_code", "An ODS organisation code is 3 to 10 letters and digits."
        )
    return value


# An organisation's ODS code, wherever it appears (a submission, an event): one rule.
OdsCode = Annotated[
    str,
    AfterValidator(_ods_code),
    WithJsonSchema({"type": "string", "pattern": _ODS_CODE.pattern}),
]

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# The characters of Unicode's categories Cc (controls) and Cs (surrogates), which its
# stability policy fixes for good, and the bidi controls: one scan in C, not a Python call
# per character (`tests/unit/test_text_rule.py` checks every code point against unicodedata).
_UNSAFE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(BIDI_CONTROLS))
_UNSAFE_MULTILINE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_ONE_LINE = re.compile(f"[{_UNSAFE}\t\n\r]")


def unsafe_character(value: str, *, multiline: bool) -> bool:
    """The one rule for text anyone typed: no control character (NUL included), no lone
    surrogate, no bidi control; none can be stored, shown or sent safely. A multi-line text
    may keep tabs and line breaks (a submission's `\\r` is then made `\\n`)."""
    return (_UNSAFE_MULTILINE if multiline else _UNSAFE_ONE_LINE).search(value) is not None


def _printable(value: str) -> str:
    """Free text on an event (a reason, a clinic's name), by the one rule."""
    if unsafe_character(value, multiline=True):
        raise ValueError("control characters are not allowed")
    return value


Text = Annotated[str, Field(max_length=2000), AfterValidator(_printable)]


def _one_line(value: str) -> str:
    """A short text shown on one line (a place, a service's name), by the one rule."""
    if unsafe_character(value, multiline=False) or not value.strip():
        raise ValueError("one line of text, without control characters")
    return value.strip()


class ReferralReceived(Event):
    """Intake accepted a referral: only what routing needs, no patient identifiers."""

    TOPIC: ClassVar[topics.Topic] = topics.REFERRAL_RECEIVED
    referral_id: UUID
    tracking_reference: TrackingReference = Field(
        description="Short human reference, with a check character."
    )
    service: ServiceCode
    referrer_role: ReferrerRole
    referrer_organisation_code: OdsCode | None = Field(
        description="ODS code; null for self-referral."
    )
    age_years: int = Field(ge=0, le=MAX_AGE_YEARS)
    sex_at_birth: SexAtBirth
    postcode_district: str = Field(
        pattern=r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR)$",
        description="Outward code only, e.g. 'B1'; never the full postcode.",
    )
    pregnancy_status: PregnancyStatus
    expected_delivery_date: date | None = None
    delivery_date: date | None = None
    completed_talking_therapies: bool | None = None
    has_prior_approval_reference: bool = False
    conditions: tuple[ConditionCode, ...] = Field(default=(), max_length=20)


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)
    rule: str = Field(
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
        description="Stable rule id, e.g. 'thrive.referrer-is-professional'.",
    )
    message: Text = Field(description="Plain English.")


class Destination(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    name: Text


class RoutingDecision(BaseModel):
    """The routing decision (docs/CONTRACTS.md, "Routing decision"): what the rules, or a person
    at triage, decided for one referral. The one model of it, from the rule engine to the
    event that announces it (`ReferralDecided`) and the status intake shows."""

    model_config = ConfigDict(frozen=True)
    outcome: Outcome
    service: ServiceCode
    destination: Destination | None
    reasons: tuple[Reason, ...] = Field(max_length=50)
    signposting: tuple[Text, ...] = Field(default=(), max_length=20)
    urgent: bool = False
    rules_version: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")


class ReferralDecided(RoutingDecision, Event):
    """The router's decision, announced on the topic of its outcome."""

    referral_id: UUID
    tracking_reference: TrackingReference
    received_event_id: UUID
    decided_by: Text = Field(default="rules", description="'rules', or the person who triaged it.")

    @property
    def decision(self) -> RoutingDecision:
        return RoutingDecision.model_validate(
            self.model_dump(include=set(RoutingDecision.model_fields))
        )

    @staticmethod
    def announce(
        decision: RoutingDecision,
        *,
        referral_id: UUID,
        tracking_reference: str,
        received_event_id: UUID,
        correlation_id: str,
        decided_by: str = "rules",
    ) -> ReferralDecided:
        """The event for `decision`, of the type (and so the topic) of its outcome."""
        return _EVENT_FOR_OUTCOME[decision.outcome](
            **decision.model_dump(),
            referral_id=referral_id,
            tracking_reference=tracking_reference,
            received_event_id=received_event_id,
            correlation_id=correlation_id,
            decided_by=decided_by,
        )


class ReferralRouted(ReferralDecided):
    TOPIC: ClassVar[topics.Topic] = topics.REFERRAL_ROUTED
    outcome: Literal[Outcome.ROUTED] = Outcome.ROUTED


class ReferralRejected(ReferralDecided):
    TOPIC: ClassVar[topics.Topic] = topics.REFERRAL_REJECTED
    outcome: Literal[Outcome.REJECTED] = Outcome.REJECTED


class ReferralNeedsTriage(ReferralDecided):
    TOPIC: ClassVar[topics.Topic] = topics.REFERRAL_TRIAGE
    outcome: Literal[Outcome.NEEDS_TRIAGE] = Outcome.NEEDS_TRIAGE


_EVENT_FOR_OUTCOME: dict[Outcome, type[ReferralDecided]] = {
    Outcome.ROUTED: ReferralRouted,
    Outcome.REJECTED: ReferralRejected,
    Outcome.NEEDS_TRIAGE: ReferralNeedsTriage,
}

SiteId = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,100}$")]
ReasonCode = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,60}$")]


AppointmentMode = Literal["in-person", "telephone", "video"]
StepName = Literal[  # the steps of a referral's life after routing, by name
    "accepted",
    "returned",
    "cancelled",
    "amended",
    "booked",
    "appointment-cancelled",
    "attended",
    "did-not-attend",
    "not-contactable",
    "discharged",
]


class Appointment(BaseModel):
    """An appointment as the woman is told it: when, how, and where in words she can use.
    Nothing in it names her."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime = Field(description="When it starts, with its UTC offset.")
    mode: AppointmentMode = Field(description="In person, by telephone or by video.")
    place: Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_one_line)] = Field(
        description="Where (in person), or how she will be called (telephone, video), in "
        "plain words: 'Room 4, Women's Health Hub, Solihull Hospital, Lode Lane'."
    )


class ReferralTransitioned(Event):
    """A step of a referral's life after routing, on `referrals.lifecycle`, keyed by referral
    so that its steps keep their order. No patient identifiers: who acted is a role, and a
    clinic its site id; a reason is a code from the directory with its plain words."""

    TOPIC: ClassVar[topics.Topic] = topics.REFERRAL_LIFECYCLE
    transition: StepName
    referral_id: UUID
    tracking_reference: TrackingReference
    service: ServiceCode
    before: ReferralState
    after: ReferralState
    by: Literal["clinic", "referrer", "patient"]
    site: SiteId | None = Field(
        default=None, description="The clinic that acted, or that held the referral; else null."
    )
    by_person: str | None = Field(
        default=None,
        max_length=200,
        description="The member of staff who acted, by the identity provider's pseudonymous "
        "id (never a name); null for a machine (an API key) or the woman herself.",
    )


class ReferralAccepted(ReferralTransitioned):
    """The clinic accepted it: it will contact the woman to book."""

    transition: Literal["accepted"] = "accepted"


class ReferralReturned(ReferralTransitioned):
    """The clinic returned it: to the referrer (final), or to triage to find the right site."""

    transition: Literal["returned"] = "returned"
    to: Literal["referrer", "triage"]
    reason_code: ReasonCode
    reason: Text = Field(description="The directory's plain words for the reason code.")


class ReferralCancelled(ReferralTransitioned):
    """The referrer, or the woman herself, cancelled it."""

    transition: Literal["cancelled"] = "cancelled"
    reason_code: ReasonCode
    reason: Text


class ReferralAmended(ReferralTransitioned):
    """The referrer corrected it; `reroute`: a fact routing depends on changed, and a new
    ReferralReceived follows on `referrals.received` for the router to decide again."""

    transition: Literal["amended"] = "amended"
    reroute: bool


class ReferralBooked(ReferralTransitioned):
    """The clinic booked her an appointment, or changed the one she had (`before` booked),
    or offered another after a missed one (`before` did-not-attend)."""

    transition: Literal["booked"] = "booked"
    appointment: Appointment


class ReferralAppointmentCancelled(ReferralTransitioned):
    """The clinic cancelled her appointment; the referral waits to be booked again."""

    transition: Literal["appointment-cancelled"] = "appointment-cancelled"


class ReferralAttended(ReferralTransitioned):
    """She came to her appointment; she stays under the clinic's care until discharged."""

    transition: Literal["attended"] = "attended"


class ReferralDidNotAttend(ReferralTransitioned):
    """She did not come to her appointment. `may_rebook`: whether the service's policy (the
    directory's `after_missed_appointment`) lets the clinic offer another."""

    transition: Literal["did-not-attend"] = "did-not-attend"
    may_rebook: bool


class ReferralNotContactable(ReferralTransitioned):
    """The clinic could not reach her: the referral goes back to the referrer (final)."""

    transition: Literal["not-contactable"] = "not-contactable"
    attempts: tuple[AwareDatetime, ...] = Field(
        min_length=1, max_length=20, description="When each attempt to reach her was made."
    )


class ReferralDischarged(ReferralTransitioned):
    """Her care under this referral is complete: the outcome (a code from the directory's
    `discharge_outcomes` with its plain words) closes the loop with the referrer."""

    transition: Literal["discharged"] = "discharged"
    outcome_code: ReasonCode
    outcome: Text = Field(description="The directory's plain words for the outcome code.")
    referred_to: Annotated[str, Field(max_length=200), AfterValidator(_one_line)] | None = Field(
        default=None, description="For an outcome that refers her on: the service's name."
    )


LifecycleEvent = Annotated[
    ReferralAccepted
    | ReferralReturned
    | ReferralCancelled
    | ReferralAmended
    | ReferralBooked
    | ReferralAppointmentCancelled
    | ReferralAttended
    | ReferralDidNotAttend
    | ReferralNotContactable
    | ReferralDischarged,
    Field(discriminator="transition"),
]


class TriageResolved(Event):
    """A person at triage decided a referral the rules could not: route it to a site of its
    service, or return it with a reason (and where to go instead). Intake publishes it from
    the triage page; the router checks it and announces the decision. Names no patient; who
    decided is the triage team, as its key says."""

    TOPIC: ClassVar[topics.Topic] = topics.TRIAGE_RESOLVED
    referral_id: UUID
    tracking_reference: TrackingReference
    service: ServiceCode
    route_to: SiteId | None = Field(description="The site; null: returned to the referrer.")
    reason: Text = Field(min_length=1, description="Why, in plain words.")
    signposting: tuple[Text, ...] = Field(default=(), max_length=20)
    decided_by: Text = Field(min_length=1, description="Who decided (the triage team).")


PromiseName = Literal["accept", "book", "appointment", "triage"]
ClockName = Literal[PromiseName, "reminder"]


class ReferralOverdue(Event):
    """A referral still waited when the promise its service made ran out (its `clock`: the
    clinic to accept or return it, to book her, her first appointment, triage to decide).
    Fired once per breach by intake's clocks; names no patient."""

    TOPIC: ClassVar[topics.Topic] = topics.REFERRAL_OVERDUE
    referral_id: UUID
    tracking_reference: TrackingReference
    service: ServiceCode
    site: SiteId | None = Field(description="The clinic that holds it; null at triage.")
    clock: PromiseName
    state: ReferralState = Field(description="Where it still stands.")
    due_at: datetime = Field(description="When the promise ran out.")
    started_at: datetime = Field(description="When it started waiting.")
    tell_her: bool = Field(
        description="Whether the woman is told (not when she was told of another breach of "
        "this referral within the directory's `escalation.tell_her_every_days`)."
    )


class AppointmentReminder(Event):
    """Her appointment is near (the directory's `journey.appointment_reminder` before it):
    remind her. Fired once by intake's clocks, and not at all for an appointment changed or
    cancelled before then; names no patient."""

    TOPIC: ClassVar[topics.Topic] = topics.APPOINTMENT_REMINDER
    referral_id: UUID
    tracking_reference: TrackingReference
    service: ServiceCode
    site: SiteId = Field(description="The clinic she is booked with.")
    appointment: Appointment


ContactChannel = Literal["sms", "email", "letter"]
Channel = Literal[ContactChannel, "webhook", "bars"]  # bars: the sender's own $process-message
Recipient = Literal["patient", "clinic", "referrer"]
MAX_CONTACT_LOOKUP = 500  # one notifier batch of decisions


class PatientContact(BaseModel):
    """How to reach one referral's patient and referrer: what intake's contact endpoint gives
    the notifier, the only patient details the notifier ever holds, and only while it sends.
    Never on a topic."""

    model_config = ConfigDict(frozen=True)
    given_name: str
    email: str | None
    mobile: str | None
    address: tuple[str, ...] | None = Field(
        default=None, description="A letter's address block: her name, the lines, postcode last."
    )
    contact_preferences: tuple[ContactChannel, ...]
    message_detail: Literal["discreet", "full"] = "discreet"
    referrer_role: ReferrerRole
    referrer_email: str | None
    referrer_endpoint: str | None = Field(
        default=None,
        description="The referring organisation's own BaRS $process-message, for a referral "
        "that came in as a BaRS message from an organisation that registered one.",
    )
    status: ReferralState | None = Field(
        default=None,
        description="Where the referral stands now: a decision that arrives "
        "after it was cancelled is not told.",
    )


class ContactLookup(BaseModel):
    """The notifier asks intake for the contacts of a batch of referrals."""

    referral_ids: list[UUID] = Field(min_length=1, max_length=MAX_CONTACT_LOOKUP)


class Contacts(BaseModel):
    """Intake's answer: each known referral's contact, and the ids it does not know."""

    contacts: dict[UUID, PatientContact]
    unknown: list[UUID]


class NotificationSent(Event):
    TOPIC: ClassVar[topics.Topic] = topics.NOTIFICATION_SENT
    decision_event_id: UUID
    referral_id: UUID
    recipient: Recipient
    channel: Channel
    provider_reference: str | None = None


class NotificationFailed(Event):
    TOPIC: ClassVar[topics.Topic] = topics.NOTIFICATION_FAILED
    decision_event_id: UUID
    referral_id: UUID
    recipient: Recipient
    channel: Channel
    attempts: Annotated[int, Field(ge=1)]
    error: str = Field(description="Provider error, free of patient details.")


class DeadLetter(Event):
    """A message a consumer could not handle, kept with the reason and its original bytes.

    The original is kept as it was when it was a well-formed event (safe to show); otherwise
    it is sealed to the operators' dead-letter key, or left out when the service has none.
    A letter always fits the broker: a larger original is cut short (`original_truncated`),
    and the whole message stays at its source offset while the topic retains it."""

    source_topic: str
    source_partition: int
    source_offset: int
    reason: str
    original_base64: str = Field(
        default="",
        description="Base64 of the original message bytes, or of the sealed box of them when "
        "original_sealed; empty when the original was not kept (see reason).",
    )
    original_sealed: bool = False
    original_size: int | None = Field(default=None, description="Bytes of the original.")
    original_truncated: bool = Field(
        default=False, description="Only the first bytes of a large original are kept."
    )
