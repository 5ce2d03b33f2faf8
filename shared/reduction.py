"""What leaves intake on Kafka: only what routing needs, never who the patient is.

Shared because `router explain` reduces a submission exactly as intake does."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from shared.contracts import ReferralReceived
from shared.submission import ReferralSubmission, postcode_district


def age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def for_routing(
    submission: ReferralSubmission,
    *,
    referral_id: UUID,
    tracking_reference: str,
    correlation_id: str,
    today: date,
) -> ReferralReceived:
    """The identifier-free event: age not birth date, postcode district not postcode,
    whether a prior approval reference exists rather than the reference itself."""
    patient, clinical = submission.patient, submission.clinical
    return ReferralReceived(
        correlation_id=correlation_id,
        referral_id=referral_id,
        tracking_reference=tracking_reference,
        service=submission.service,
        referrer_role=submission.referrer.role,
        referrer_organisation_code=submission.referrer.organisation_code,
        age_years=age_in_years(patient.date_of_birth, today),
        sex_at_birth=patient.sex_at_birth,
        postcode_district=postcode_district(patient.postcode),
        pregnancy_status=clinical.pregnancy_status,
        expected_delivery_date=clinical.expected_delivery_date,
        delivery_date=clinical.delivery_date,
        completed_talking_therapies=clinical.completed_talking_therapies,
        has_prior_approval_reference=clinical.prior_approval_reference is not None,
        conditions=clinical.conditions,
    )
