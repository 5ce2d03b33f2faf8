"""Self-referral events on the wire: a v1 submission sealed to intake's public key inside a
`SelfReferralSubmitted` envelope. Forms encode with `encode`; intake decodes with `decode`."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import ValidationError

from shared.contracts import SelfReferralSubmitted
from shared.sealed import SealError, open_sealed, seal
from shared.submission import ReferralSubmission, describe


class Unreadable(Exception):
    """Why an event cannot be accepted; `envelope_ok` says whether its bytes are safe to show
    (a well-formed envelope holds only sealed text)."""

    def __init__(self, reason: str, *, envelope_ok: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.envelope_ok = envelope_ok


def encode(
    submission: ReferralSubmission,
    public_key: str,
    *,
    source: str,
    correlation_id: str,
    referral_id: UUID | None = None,
    tracking_reference: str | None = None,
    event_id: UUID | None = None,
) -> SelfReferralSubmitted:
    return SelfReferralSubmitted(
        **({"event_id": event_id} if event_id is not None else {}),
        correlation_id=correlation_id,
        source=source,
        referral_id=referral_id,
        tracking_reference=tracking_reference,
        sealed_submission=seal(public_key, submission.model_dump_json().encode()),
    )


def decode(
    raw: bytes, private_key: str, today: date
) -> tuple[SelfReferralSubmitted, ReferralSubmission]:
    try:
        event = SelfReferralSubmitted.model_validate_json(raw)
    except ValidationError as error:
        raise Unreadable(
            "not a SelfReferralSubmitted event: " + describe(error), envelope_ok=False
        ) from error
    return event, open_submission(event, private_key, today)


def open_submission(
    event: SelfReferralSubmitted, private_key: str, today: date
) -> ReferralSubmission:
    """The submission sealed in a well-formed envelope, validated as on the API."""
    try:
        plaintext = open_sealed(private_key, event.sealed_submission)
    except SealError as error:
        raise Unreadable(f"sealed_submission {error}", envelope_ok=True) from error
    try:
        submission = ReferralSubmission.model_validate_json(plaintext, context={"today": today})
    except ValidationError as error:
        raise Unreadable("invalid submission: " + describe(error), envelope_ok=True) from error
    return submission
