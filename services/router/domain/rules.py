"""The rule engine: one referral, the directory and an as-of date in; exactly one decision
out, with every reason. Pure code: no Kafka, no SQL, no clock (the date is given)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

from shared.contracts import (
    Destination,
    Outcome,
    PregnancyStatus,
    Reason,
    ReferralReceived,
    RoutingDecision,
)
from shared.directory import Directory, Service

# Rule ids are `<service>.<check>`; a service may name a check differently in the directory.
DEFAULT_RULE_IDS = {
    "referrer": "referrer-allowed",
    "eligibility": "eligible-pregnancy-status",
    "completed-talking-therapies": "completed-talking-therapies",
    "prior-approval-reference": "prior-approval-reference",
    "outside": "resident-in-area",
    "no-site": "area-has-clinic",
    "served": "area-has-clinic",
}


@dataclass
class _Findings:
    service_code: str
    service: Service
    rejected: list[tuple[str, Reason]] = field(default_factory=list)
    triage: list[Reason] = field(default_factory=list)
    passed: list[Reason] = field(default_factory=list)

    def rule(self, check: str) -> str:
        name = self.service.rule_ids.get(check, DEFAULT_RULE_IDS.get(check, check))
        return f"{self.service_code}.{name}"

    def reject(self, check: str) -> None:
        message = self.service.messages[check]
        self.rejected.append((check, Reason(rule=self.rule(check), message=message)))

    def accept(self, check: str, message: str) -> None:
        self.passed.append(Reason(rule=self.rule(check), message=message))


def decide(referral: ReferralReceived, directory: Directory, as_of: date) -> RoutingDecision:
    service = directory.services[referral.service]
    found = _Findings(referral.service.value, service)
    _check_facts(referral, directory, as_of, found)
    _check_referrer(referral, found)
    _check_eligibility(referral, directory, as_of, found)
    _check_prerequisites(referral, found)
    destination = _check_place(referral, directory, found)

    conditions = service.urgent_conditions.values if service.urgent_conditions else ()
    urgent = any(condition in conditions for condition in referral.conditions)
    if found.rejected:
        outcome, reasons, destination = (
            Outcome.REJECTED,
            tuple(r for _, r in found.rejected),
            None,
        )
    elif found.triage:
        outcome, reasons, destination = Outcome.NEEDS_TRIAGE, tuple(found.triage), None
    else:
        outcome, reasons = Outcome.ROUTED, tuple(found.passed)
    signposting: list[str] = []
    for check, _reason in found.rejected:
        for line in service.signposting.get(check, ()):
            if line not in signposting:
                signposting.append(line)
    return RoutingDecision(
        outcome=outcome,
        service=referral.service,
        destination=destination,
        reasons=reasons,
        signposting=tuple(signposting),
        urgent=urgent,
        rules_version=directory.rules_version,
    )


def _check_facts(
    referral: ReferralReceived, directory: Directory, as_of: date, found: _Findings
) -> None:
    """Facts that contradict each other: the rules cannot decide, a person will."""
    status = referral.pregnancy_status
    if referral.sex_at_birth == "male" and status in (
        PregnancyStatus.PREGNANT,
        PregnancyStatus.POSTNATAL,
    ):
        found.triage.append(
            Reason(
                rule="facts.sex-and-pregnancy-conflict",
                message="The sex registered at birth and the pregnancy status disagree.",
            )
        )
    grace = timedelta(days=directory.policy.due_date_grace_days.value)
    due = referral.expected_delivery_date
    if status is PregnancyStatus.PREGNANT and due is not None and due < as_of - grace:
        found.triage.append(
            Reason(
                rule="facts.due-date-passed",
                message="The due date passed long ago; the pregnancy status may be out of date.",
            )
        )


def _check_referrer(referral: ReferralReceived, found: _Findings) -> None:
    if referral.referrer_role in found.service.referrers.allowed:
        found.accept("referrer", f"A referral from a {referral.referrer_role.value} is accepted.")
    else:
        found.reject("referrer")


def _check_eligibility(
    referral: ReferralReceived, directory: Directory, as_of: date, found: _Findings
) -> None:
    statuses = found.service.eligibility.pregnancy_statuses
    if not statuses:
        return
    status = referral.pregnancy_status
    if status not in statuses:
        found.reject("eligibility")
        return
    if status is PregnancyStatus.POSTNATAL and referral.delivery_date is not None:
        months = directory.policy.postnatal_window_months.value
        if as_of > add_months(referral.delivery_date, months):
            found.reject("eligibility")
            return
        found.accept("eligibility", f"The birth was within the last {months} months.")
        return
    found.accept("eligibility", f"Pregnancy status '{status.value}' is eligible.")


def _check_prerequisites(referral: ReferralReceived, found: _Findings) -> None:
    for prerequisite in found.service.prerequisites:
        met = (
            referral.completed_talking_therapies is True
            if prerequisite == "completed-talking-therapies"
            else referral.has_prior_approval_reference
        )
        if met:
            found.accept(prerequisite, "The referral shows it.")
        else:
            found.reject(prerequisite)


def _check_place(
    referral: ReferralReceived, directory: Directory, found: _Findings
) -> Destination | None:
    district = referral.postcode_district
    site = directory.site_for(referral.service, district)
    if site is not None:
        found.accept("served", f"{site.name} serves {district}.")
        return Destination(id=site.id, name=site.name)
    region = directory.region_of(district)
    if region is None:
        found.triage.append(
            Reason(
                rule=f"{found.service_code}.area-known",
                message=f"The postcode district {district} is not in the directory; "
                "a person will check which service covers it.",
            )
        )
    elif found.service.coverage == "england" and region == "england":
        found.reject("no-site")
    else:
        found.reject("outside")
    return None


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
