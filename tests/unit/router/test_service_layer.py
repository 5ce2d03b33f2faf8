"""The router's use cases over an in-memory store: decided once, triage resolved by a person,
all or nothing. The PostgreSQL adapter is proven in tests/integration/router."""

from __future__ import annotations

import io
from datetime import date

import pytest

from devstack.samples import received_event
from router import service_layer
from router.domain.triage import TriageError
from router.ports import UnitOfWork
from shared.contracts import (
    Outcome,
    ReferralCancelled,
    ReferralReturned,
    ReferralRouted,
    TriageResolved,
)
from shared.directory import load_directory
from tests.support.fakes import InMemoryDecisions, RouterState

DIRECTORY = load_directory()
TODAY = date.today()


def store(state: RouterState) -> UnitOfWork:
    return lambda: InMemoryDecisions(state)


async def test_each_event_is_decided_once_even_when_it_comes_again() -> None:
    state = RouterState()
    event, other = received_event(), received_event()
    first = await service_layer.decide_batch(
        store(state), [event, event, other], DIRECTORY, as_of=TODAY, topic="t"
    )
    again = await service_layer.decide_batch(
        store(state), [event], DIRECTORY, as_of=TODAY, topic="t"
    )
    assert [d.referral_id for d in first] == [event.referral_id, other.referral_id]
    assert again == []
    assert state.outbox == first  # each decision's event queued once
    assert isinstance(first[0], ReferralRouted)
    assert first[0].received_event_id == event.event_id
    assert first[0].correlation_id == event.correlation_id


async def test_a_batch_that_fails_keeps_nothing() -> None:
    state = RouterState()
    event = received_event()

    def broken(_decision: object) -> BaseException:
        return RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        await service_layer.decide_batch(
            lambda: InMemoryDecisions(state, fails=broken),
            [event],
            DIRECTORY,
            as_of=TODAY,
            topic="t",
        )
    assert state == RouterState()  # not even the inbox entry: the event comes again
    decided = await service_layer.decide_batch(
        store(state), [event], DIRECTORY, as_of=TODAY, topic="t"
    )
    assert len(decided) == 1


async def test_a_person_resolves_triage_once_and_only_for_a_site_of_the_service() -> None:
    state = RouterState()
    event = received_event(postcode_district="ZZ1")  # no clinic serves it: needs triage
    (decided,) = await service_layer.decide_batch(
        store(state), [event], DIRECTORY, as_of=TODAY, topic="t"
    )
    assert decided.outcome == Outcome.NEEDS_TRIAGE
    (pending,) = await service_layer.pending_triage(store(state))
    assert pending.referral_id == event.referral_id

    with pytest.raises(TriageError, match="not a site of pelvic-health"):
        await service_layer.resolve_triage(
            store(state), event.referral_id, DIRECTORY,
            route_to="hub-dgs", decided_by="Sam Jones", reason="Checked.",
        )  # fmt: skip
    with pytest.raises(TriageError, match="say who decided"):
        await service_layer.resolve_triage(
            store(state), event.referral_id, DIRECTORY,
            route_to="pelvic-bsol", decided_by=" ", reason="Checked.",
        )  # fmt: skip
    resolved = await service_layer.resolve_triage(
        store(state), event.referral_id, DIRECTORY,
        route_to="pelvic-bsol", decided_by="Sam Jones", reason="New estate in Birmingham.",
    )  # fmt: skip
    assert resolved is not None
    assert resolved.outcome == Outcome.ROUTED
    assert resolved.destination is not None
    assert resolved.destination.id == "pelvic-bsol"
    assert resolved.decided_by == "Sam Jones"
    assert resolved.received_event_id == event.event_id
    assert state.outbox[-1] == resolved
    assert await service_layer.pending_triage(store(state)) == []
    with pytest.raises(TriageError, match="not awaiting triage"):
        await service_layer.resolve_triage(
            store(state), event.referral_id, DIRECTORY,
            route_to=None, decided_by="Sam Jones", reason="Twice.",
        )  # fmt: skip


async def test_an_unknown_referral_cannot_be_resolved() -> None:
    event = received_event()
    with pytest.raises(TriageError, match="no referral"):
        await service_layer.resolve_triage(
            store(RouterState()), event.referral_id, DIRECTORY,
            route_to=None, decided_by="Sam Jones", reason="?",
        )  # fmt: skip


async def test_a_return_to_triage_waits_for_a_person_and_a_cancellation_ends_the_wait() -> None:
    state = RouterState()
    event = received_event()
    (routed,) = await service_layer.decide_batch(
        store(state), [event], DIRECTORY, as_of=TODAY, topic="t"
    )
    assert await service_layer.pending_triage(store(state)) == []

    def step(kind: type, **more: object) -> object:
        return kind(
            correlation_id=event.correlation_id, referral_id=event.referral_id,
            tracking_reference=event.tracking_reference, service=event.service,
            before="routed", after=more.pop("after"), by=more.pop("by"), site="pelvic-bsol",
            **more,
        )  # fmt: skip

    returned = step(
        ReferralReturned, after="needs-triage", by="clinic", to="triage",
        reason_code="wrong-site", reason="Not our area.",
    )  # fmt: skip
    await service_layer.follow_lifecycle(store(state), [returned, returned], topic="l")  # type: ignore[list-item]
    (pending,) = await service_layer.pending_triage(store(state))
    assert pending.reasons[0].message == "Not our area."
    assert state.outbox == [routed]  # nothing announced by the router: intake did
    cancelled = step(
        ReferralCancelled, after="cancelled", by="referrer", reason_code="sent-in-error",
        reason="Sent in error.",
    )  # fmt: skip
    await service_layer.follow_lifecycle(store(state), [cancelled], topic="l")  # type: ignore[list-item]
    assert await service_layer.pending_triage(store(state)) == []
    with pytest.raises(TriageError, match="cancelled"):
        await service_layer.resolve_triage(
            store(state), event.referral_id, DIRECTORY,
            route_to="pelvic-bsol", decided_by="Sam Jones", reason="Found the site.",
        )  # fmt: skip


def resolution(event: object, **fields: object) -> TriageResolved:
    values: dict[str, object] = {
        "correlation_id": event.correlation_id,  # type: ignore[attr-defined]
        "referral_id": event.referral_id,  # type: ignore[attr-defined]
        "tracking_reference": event.tracking_reference,  # type: ignore[attr-defined]
        "service": event.service,  # type: ignore[attr-defined]
        "route_to": "pelvic-bsol",
        "reason": "New estate in Birmingham.",
        "decided_by": "triage team kent",
        **fields,
    }
    return TriageResolved(**values)  # type: ignore[arg-type]


async def test_a_resolution_from_the_triage_page_decides_once_and_a_late_one_is_passed_over(
    logged: io.StringIO,
) -> None:
    state = RouterState()
    event = received_event(postcode_district="ZZ1")
    await service_layer.decide_batch(store(state), [event], DIRECTORY, as_of=TODAY, topic="t")
    first, second = resolution(event), resolution(event, route_to=None, reason="Too late.")
    await service_layer.resolve_from_triage_page(
        store(state), DIRECTORY, [first, first], topic="triage"
    )

    def decisions_of() -> list[object]:
        return [e for e in state.outbox if getattr(e, "referral_id", None) == event.referral_id]

    decisions = decisions_of()
    assert [d.outcome for d in decisions] == [Outcome.NEEDS_TRIAGE, Outcome.ROUTED]  # type: ignore[attr-defined]
    assert decisions[-1].decided_by == "triage team kent"  # type: ignore[attr-defined]
    await service_layer.resolve_from_triage_page(
        store(state), DIRECTORY, [first, second], topic="triage"
    )  # redelivered, and someone else's after it: neither decides again
    assert (
        len([e for e in state.outbox if getattr(e, "referral_id", None) == event.referral_id]) == 2
    )
    assert "triage resolution passed over" in logged.getvalue()
