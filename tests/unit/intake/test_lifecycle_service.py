"""A referral's life through intake's use cases, over the in-memory store: decisions kept as
its state in order, a clinic's acceptance and return, a cancellation and an amendment, each
recorded and announced once; whoever may not act is refused."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from devstack.samples import gp_referral, self_referral
from intake import service_layer
from intake.domain.lifecycle import Accept, Cancel, IllegalTransition, Return
from intake.domain.proof import proof_of
from intake.domain.referral import AcceptedReferral, accept_professional, accept_self_referral
from intake.ports import IdempotencyConflict, UnitOfWork
from intake.service_layer import Actor, NotFound
from intake.service_layer.lifecycle import UnknownReason
from shared.contracts import (
    Outcome,
    ReferralAccepted,
    ReferralAmended,
    ReferralCancelled,
    ReferralDecided,
    ReferralReceived,
    ReferralReturned,
    ReferralState,
    TriageResolved,
)
from shared.directory import load_directory
from shared.submission import ReferralSubmission
from tests.support.decisions import decided
from tests.support.fakes import InMemoryReferrals, IntakeState

DIRECTORY = load_directory()
TODAY = date.today()
SITE = "pelvic-bsol"
GP = Actor("referrer", "M85001")
CLINIC = Actor("clinic", SITE)


def store(state: IntakeState) -> UnitOfWork:
    return lambda: InMemoryReferrals(state)


async def kept(state: IntakeState, decisions: list[ReferralDecided]) -> set[UUID]:
    return await service_layer.record_decisions(store(state), decisions, DIRECTORY)


def accepted(**changes: object) -> AcceptedReferral:
    submission = ReferralSubmission.model_validate(
        gp_referral("M85001", **changes), context={"today": TODAY}
    )
    return accept_professional(
        submission, organisation_code="M85001", correlation_id="c-1", today=TODAY
    )


async def stored(state: IntakeState) -> AcceptedReferral:
    referral = accepted()
    assert await InMemoryReferrals(state).add_many([referral]) == [True]
    return referral


async def routed(state: IntakeState) -> AcceptedReferral:
    referral = await stored(state)
    await service_layer.record_decisions(
        store(state), [decided(referral.received, Outcome.ROUTED)], DIRECTORY
    )
    return referral


async def test_decisions_are_kept_in_order_and_a_stale_one_is_passed_over() -> None:
    state = IntakeState()
    referral = await stored(state)
    triage = decided(referral.received, Outcome.NEEDS_TRIAGE, minutes=0)
    resolved = decided(referral.received, Outcome.ROUTED, minutes=1)
    changed = await kept(state, [resolved, triage])
    assert changed == {referral.referral_id}
    now = state.standing[referral.referral_id]
    assert (now.state, now.destination) == (ReferralState.ROUTED, SITE)
    history = state.history(referral.referral_id)
    assert [(h.before, h.after) for h in history] == [
        ("received", "needs-triage"),
        ("needs-triage", "routed"),
    ]
    late = decided(referral.received, Outcome.REJECTED, minutes=-5)  # older than the last
    assert await kept(state, [late]) == set()
    assert await kept(state, [resolved]) == set()  # again
    assert state.standing[referral.referral_id].state == ReferralState.ROUTED


async def test_the_clinic_accepts_once_and_nobody_else_may() -> None:
    state = IntakeState()
    referral = await routed(state)
    with pytest.raises(NotFound):
        await service_layer.act(
            store(state), referral.referral_id, Accept("pelvic-dgs"),
            Actor("clinic", "pelvic-dgs"), DIRECTORY,
        )  # fmt: skip
    now = await service_layer.act(
        store(state), referral.referral_id, Accept(SITE), CLINIC, DIRECTORY
    )
    assert now.status == ReferralState.ACCEPTED
    (event,) = [e for e in state.outbox if isinstance(e, ReferralAccepted)]
    assert (event.site, event.by, event.before) == (SITE, "clinic", ReferralState.ROUTED)
    with pytest.raises(IllegalTransition) as refused:
        await service_layer.act(store(state), referral.referral_id, Accept(SITE), CLINIC, DIRECTORY)
    assert refused.value.current == ReferralState.ACCEPTED
    assert len([e for e in state.outbox if isinstance(e, ReferralAccepted)]) == 1


@pytest.mark.parametrize(
    ("code", "after"),
    [("wrong-service", ReferralState.RETURNED), ("wrong-site", ReferralState.NEEDS_TRIAGE)],
)
async def test_a_return_goes_where_its_reason_says(code: str, after: ReferralState) -> None:
    state = IntakeState()
    referral = await routed(state)
    with pytest.raises(UnknownReason, match="wrong-service"):
        await service_layer.act(
            store(state), referral.referral_id, Return(SITE, "referrer"), CLINIC, DIRECTORY,
            reason_code="because",
        )  # fmt: skip
    now = await service_layer.act(
        store(state), referral.referral_id, Return(SITE, "referrer"), CLINIC, DIRECTORY,
        reason_code=code,
    )  # fmt: skip
    assert now.status == after
    (event,) = [e for e in state.outbox if isinstance(e, ReferralReturned)]
    assert event.reason_code == code
    assert event.reason == DIRECTORY.return_reasons[code].message
    (entry,) = [h for h in state.history(referral.referral_id)
                if h.action == "returned"]  # fmt: skip
    assert (entry.by, entry.by_id, entry.reason_code) == ("clinic", SITE, code)


async def test_only_the_referrer_may_cancel_and_only_while_it_is_not_final() -> None:
    state = IntakeState()
    referral = await routed(state)
    with pytest.raises(NotFound):
        await service_layer.act(
            store(state), referral.referral_id, Cancel("referrer"), Actor("referrer", "Y00001"),
            DIRECTORY, reason_code="sent-in-error",
        )  # fmt: skip
    now = await service_layer.act(
        store(state), referral.referral_id, Cancel("referrer"), GP, DIRECTORY,
        reason_code="sent-in-error",
    )  # fmt: skip
    assert now.status == ReferralState.CANCELLED
    (event,) = [e for e in state.outbox if isinstance(e, ReferralCancelled)]
    assert event.site == SITE  # the clinic held it: it is told
    with pytest.raises(IllegalTransition):
        await service_layer.act(
            store(state), referral.referral_id, Cancel("referrer"), GP, DIRECTORY,
            reason_code="sent-in-error",
        )  # fmt: skip
    # A decision that arrives after the cancellation does not bring it back.
    later = decided(referral.received, Outcome.ROUTED, minutes=10)
    assert await kept(state, [later]) == set()


async def test_an_amendment_reroutes_only_when_a_routing_fact_changed() -> None:
    state = IntakeState()
    referral = await routed(state)

    async def amend(**changes: object) -> service_layer.Done:
        submission = ReferralSubmission.model_validate(
            gp_referral("M85001", **changes), context={"today": TODAY}
        )
        return await service_layer.amend(
            store(state), referral.referral_id, submission, GP, correlation_id="c-2", today=TODAY
        )

    now = await amend(**{"patient.mobile": "07700900999"})
    assert (now.status, now.rerouted) == (ReferralState.ROUTED, False)

    now = await amend(**{"patient.postcode": "ZZ1 1AA"})
    assert (now.status, now.rerouted) == (ReferralState.RECEIVED, True)
    amended = [e for e in state.outbox if isinstance(e, ReferralAmended)]
    assert [e.reroute for e in amended] == [False, True]
    moved = state.outbox[-2]  # the router decides again, on the new facts
    assert isinstance(moved, ReferralReceived)
    assert (moved.referral_id, moved.postcode_district) == (referral.referral_id, "ZZ1")
    # The decision on the old facts, still in flight, is not applied; the new one is.
    stale = decided(referral.received, Outcome.ROUTED, minutes=5)
    fresh = decided(moved, Outcome.NEEDS_TRIAGE, minutes=6)
    assert await kept(state, [stale]) == set()
    assert await kept(state, [fresh]) == {referral.referral_id}
    assert state.standing[referral.referral_id].state == ReferralState.NEEDS_TRIAGE


async def test_a_cancellation_repeated_under_its_idempotency_key_gets_the_first_answer() -> None:
    state = IntakeState()
    referral = await routed(state)
    key = ("M85001", "cancel-1", b"hash-a")

    async def cancel(idempotency: tuple[str, str, bytes]) -> service_layer.Done:
        return await service_layer.act(
            store(state), referral.referral_id, Cancel("referrer"), GP, DIRECTORY,
            reason_code="sent-in-error", idempotency=idempotency,
        )  # fmt: skip

    first = await cancel(key)
    again = await cancel(key)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.status == first.status == ReferralState.CANCELLED
    assert len([e for e in state.outbox if isinstance(e, ReferralCancelled)]) == 1
    with pytest.raises(IdempotencyConflict):
        await cancel(("M85001", "cancel-1", b"hash-b"))


async def test_she_cancels_her_own_self_referral_only_when_every_detail_matches() -> None:
    state = IntakeState()
    submission = ReferralSubmission.model_validate(self_referral(), context={"today": TODAY})
    mine = accept_self_referral(submission, source="form", correlation_id="c", today=TODAY)
    assert await InMemoryReferrals(state).add_many([mine]) == [True]
    gp = await stored(state)  # a professional referral: never cancelled from the public page
    patient = submission.patient

    async def cancel(reference: str, birth: str, postcode: str) -> bool:
        proof = proof_of(reference, date.fromisoformat(birth), postcode)
        if proof is None:  # not one of our references: nothing is looked up
            return False
        return await service_layer.cancel_for_her(store(state), DIRECTORY, proof)

    birth, postcode = patient.date_of_birth.isoformat(), patient.postcode
    assert not await cancel(mine.tracking_reference, "1900-01-01", postcode)
    assert not await cancel(mine.tracking_reference, birth, "ZZ9 9ZZ")
    assert not await cancel("WHR-0000-00000", birth, postcode)
    assert proof_of("not a reference", patient.date_of_birth, postcode) is None
    assert not await cancel(gp.tracking_reference, birth, postcode)
    assert state.standing[mine.referral_id].state == ReferralState.RECEIVED
    # Her reference as she may type it: lower case, her postcode without its space.
    assert await cancel(mine.tracking_reference.lower(), birth, postcode.replace(" ", ""))
    assert state.standing[mine.referral_id].state == ReferralState.CANCELLED
    (event,) = [e for e in state.outbox if isinstance(e, ReferralCancelled)]
    assert (event.by, event.reason_code) == ("patient", "patient-request")
    assert not await cancel(mine.tracking_reference, birth, postcode)  # once


async def test_a_triage_resolution_is_checked_here_and_handed_to_the_router_once() -> None:
    state = IntakeState()
    waiting = await stored(state)
    await service_layer.record_decisions(
        store(state), [decided(waiting.received, Outcome.NEEDS_TRIAGE)], DIRECTORY
    )
    elsewhere = await routed(state)

    def resolve(referral: AcceptedReferral, route_to: str | None, reason: str = "Checked."):  # type: ignore[no-untyped-def]
        return service_layer.resolve_at_triage(
            store(state), DIRECTORY, referral.referral_id,
            service_layer.Resolution(route_to, reason, ("Ask your GP.", " ")),
            decided_by="triage team kent",
        )  # fmt: skip

    with pytest.raises(IllegalTransition):
        await resolve(elsewhere, SITE)
    with pytest.raises(UnknownReason) as no_site:
        await resolve(waiting, "hub-dgs")  # a site of another service
    assert no_site.value.field == "route_to"
    with pytest.raises(UnknownReason) as no_reason:
        await resolve(waiting, None, "  ")
    assert no_reason.value.field == "reason"
    assert not [e for e in state.outbox if isinstance(e, TriageResolved)]

    event = await resolve(waiting, None, "Not for this service.")
    (queued,) = [e for e in state.outbox if isinstance(e, TriageResolved)]
    assert queued == event
    assert (event.route_to, event.signposting) == (None, ("Ask your GP.",))
    assert state.standing[waiting.referral_id].state == ReferralState.NEEDS_TRIAGE  # until decided
