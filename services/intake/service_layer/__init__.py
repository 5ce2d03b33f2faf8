"""Intake's use cases, split by job: `submissions` (a referral in, once: the API and the
self-referral events) and `lifecycle` (what happens to it after: decisions kept as its state,
a clinic's acceptance or return, a cancellation, an amendment)."""

from intake.service_layer.clocks import FIRE_BATCH, fire_due
from intake.service_layer.lifecycle import (
    Actor,
    Done,
    NotFound,
    UnknownReason,
    act,
    amend,
    cancel_for_her,
    record_decisions,
)
from intake.service_layer.submissions import (
    StoredTogether,
    Submitted,
    store_self_referrals,
    submit_professional,
)
from intake.service_layer.triage import Resolution, resolve_at_triage

__all__ = [
    "FIRE_BATCH",
    "Actor",
    "Done",
    "NotFound",
    "Resolution",
    "StoredTogether",
    "Submitted",
    "UnknownReason",
    "act",
    "amend",
    "cancel_for_her",
    "fire_due",
    "record_decisions",
    "resolve_at_triage",
    "store_self_referrals",
    "submit_professional",
]
