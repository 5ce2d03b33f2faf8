"""Intake's own counters (served at /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter

REFERRALS_ACCEPTED = Counter(
    "referrals_accepted_total", "Referrals intake accepted and stored.", ["door", "service"]
)
REFERRALS_OVERDUE = Counter(
    "referrals_overdue_total",
    "Promises broken: a referral still waiting when its clock ran out (each breach once).",
    ["service", "site", "clock"],
)
APPOINTMENT_REMINDERS = Counter(
    "appointment_reminders_total",
    "Appointment reminders due (each once; none for an appointment changed or cancelled).",
    ["service", "site"],
)
REFERRALS_ERASED = Counter(
    "referrals_erased_total",
    "Referrals whose patient details were erased, by why: retention or a request.",
    ["why"],
)
