"""Accepting a referral: the rules that hold whichever door it came in by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from uuid import UUID, uuid4

from intake.domain.tracking import canonical_tracking_reference, new_tracking_reference
from shared.contracts import ReferralDecided, ReferralReceived, ReferrerRole, RoutingDecision
from shared.reduction import for_routing
from shared.submission import ReferralSubmission

Door = Literal["api", "bars", "self-referral"]  # the door a referral came in by


class RecordedDecision(RoutingDecision):
    """A referral's latest routing decision as intake keeps and shows it: who, and when."""

    decided_by: str
    decided_at: datetime

    @classmethod
    def of(cls, event: ReferralDecided) -> RecordedDecision:
        return cls(
            **event.decision.model_dump(), decided_by=event.decided_by, decided_at=event.occurred_at
        )


class NotYourOrganisation(Exception):
    """An API key may only submit referrals made by its own organisation."""


class NotASelfReferral(Exception):
    """A self-referral event whose submission names a professional referrer."""


class BadReference(Exception):
    """A form supplied a referral id or tracking reference that cannot be used."""


@dataclass(frozen=True)
class AcceptedReferral:
    referral_id: UUID
    tracking_reference: str
    door: Door
    source: str
    organisation_code: str | None
    submission: ReferralSubmission
    received: ReferralReceived


def accept_professional(
    submission: ReferralSubmission,
    *,
    organisation_code: str,
    correlation_id: str,
    today: date,
    door: Literal["api", "bars"] = "api",
) -> AcceptedReferral:
    return amendment(
        submission,
        referral_id=uuid4(),
        tracking_reference=new_tracking_reference(),
        organisation_code=organisation_code,
        correlation_id=correlation_id,
        today=today,
        door=door,
    )


def accept_self_referral(
    submission: ReferralSubmission,
    *,
    source: str,
    correlation_id: str,
    today: date,
    referral_id: UUID | None = None,
    tracking_reference: str | None = None,
) -> AcceptedReferral:
    if submission.referrer.role is not ReferrerRole.SELF:
        raise NotASelfReferral("a self-referral event must have referrer.role 'self'")
    if (referral_id is None) != (tracking_reference is None):
        raise BadReference("referral_id and tracking_reference come together or not at all")
    if tracking_reference is not None:
        tracking_reference = canonical_tracking_reference(tracking_reference)
        if tracking_reference is None:
            raise BadReference("tracking_reference is not a valid reference (check character)")
    return _accept(
        submission,
        door="self-referral",
        source=source,
        organisation_code=None,
        correlation_id=correlation_id,
        today=today,
        referral_id=referral_id or uuid4(),
        tracking_reference=tracking_reference or new_tracking_reference(),
    )


def amendment(
    submission: ReferralSubmission,
    *,
    referral_id: UUID,
    tracking_reference: str,
    organisation_code: str,
    correlation_id: str,
    today: date,
    door: Literal["api", "bars"] = "api",
) -> AcceptedReferral:
    """A professional's submission under a given id and reference: a new referral (fresh
    ones), or a corrected one for a referral it made (the referral's own), with the same
    checks."""
    if submission.referrer.organisation_code != organisation_code:
        raise NotYourOrganisation(
            "referrer.organisation_code must be the organisation this API key belongs to"
        )
    return _accept(
        submission,
        door=door,
        source=organisation_code,
        organisation_code=organisation_code,
        correlation_id=correlation_id,
        today=today,
        referral_id=referral_id,
        tracking_reference=tracking_reference,
    )


def _accept(
    submission: ReferralSubmission,
    *,
    door: Door,
    source: str,
    organisation_code: str | None,
    correlation_id: str,
    today: date,
    referral_id: UUID,
    tracking_reference: str,
) -> AcceptedReferral:
    received = for_routing(
        submission,
        referral_id=referral_id,
        tracking_reference=tracking_reference,
        correlation_id=correlation_id,
        today=today,
    )
    return AcceptedReferral(
        referral_id=referral_id,
        tracking_reference=tracking_reference,
        door=door,
        source=source,
        organisation_code=organisation_code,
        submission=submission,
        received=received,
    )
