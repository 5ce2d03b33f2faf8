"""A person's decision on a referral the rules could not decide."""

from __future__ import annotations

from shared.contracts import Destination, Outcome, Reason, RoutingDecision, ServiceCode
from shared.directory import Directory


class TriageError(ValueError):
    """The resolution is not allowed (not awaiting triage, or a site the service lacks)."""


def resolve(
    service: ServiceCode,
    directory: Directory,
    *,
    route_to: str | None,
    reason: str,
    signposting: tuple[str, ...] = (),
    urgent: bool = False,
) -> RoutingDecision:
    """Route to `route_to` (a site of the service) or, when None, reject."""
    if not reason.strip():
        raise TriageError("a resolution needs a reason")
    sites = {site.id: site for site in directory.services[service].sites}
    if route_to is not None and route_to not in sites:
        raise TriageError(
            f"{route_to} is not a site of {service.value}; choose one of {', '.join(sites)}"
        )
    destination = (
        Destination(id=route_to, name=sites[route_to].name) if route_to is not None else None
    )
    return RoutingDecision(
        outcome=Outcome.ROUTED if route_to is not None else Outcome.REJECTED,
        service=service,
        destination=destination,
        reasons=(Reason(rule="triage.decided-by-person", message=reason.strip()),),
        signposting=signposting,
        urgent=urgent,
        rules_version=directory.rules_version,
    )
