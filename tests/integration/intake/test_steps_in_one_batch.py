"""A batch that holds two steps of one referral (triage, then routing, in one consumer batch)
leaves the referral and its clocks exactly as the two steps recorded one after the other do:
the store applies each batch in set-based statements, a referral's second step after its
first."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from devstack.samples import gp_referral
from intake import service_layer
from intake.adapters.referral_store import PostgresReferrals
from shared.directory import load_directory
from tests.integration.intake.test_lifecycle_api import SITE, bearer
from tests.support.running import RunningIntake


async def received_referral(intake: RunningIntake, referrer: str) -> str:
    answer = await intake.client.post("/v1/referrals", json=gp_referral(), headers=bearer(referrer))
    assert answer.status_code == 202
    referral_id: str = answer.json()["referral_id"]
    return referral_id


async def kept(intake: RunningIntake, referral_id: str) -> dict[str, Any]:
    pool = intake.service.database.pool
    referral = await pool.fetchrow(
        "SELECT status, destination, decision->>'outcome' AS outcome, overdue_since"
        " FROM referrals WHERE referral_id = $1",
        UUID(referral_id),
    )
    clocks = await pool.fetch(
        "SELECT clock, state, due_at - started_at AS allowed FROM deadlines"
        " WHERE referral_id = $1 ORDER BY clock, state",
        UUID(referral_id),
    )
    steps = await pool.fetch(
        "SELECT before, after FROM transitions WHERE referral_id = $1 ORDER BY at",
        UUID(referral_id),
    )
    return {
        "referral": dict(referral),
        "clocks": [tuple(c) for c in clocks],
        "steps": [tuple(s) for s in steps],
    }


async def test_two_steps_of_one_referral_in_a_batch_end_as_one_after_the_other(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    together = await received_referral(intake, referrer)
    apart = await received_referral(intake, referrer)
    directory = load_directory()

    def store() -> PostgresReferrals:
        return PostgresReferrals(intake.service.database.pool)

    batch = [await intake.decision(together, None), await intake.decision(together, SITE)]
    assert await service_layer.record_decisions(store, batch, directory) == {UUID(together)}
    for decision in [await intake.decision(apart, None), await intake.decision(apart, SITE)]:
        assert await service_layer.record_decisions(store, [decision], directory) == {UUID(apart)}

    in_one_batch, one_by_one = await kept(intake, together), await kept(intake, apart)
    assert in_one_batch == one_by_one
    assert in_one_batch["referral"]["status"] == "routed"
    assert in_one_batch["referral"]["destination"] == SITE
    assert in_one_batch["steps"] == [("received", "needs-triage"), ("needs-triage", "routed")]
    states = {(clock, state) for clock, state, _ in in_one_batch["clocks"]}
    # Triage's clock, started by the first step, stopped by the second, not left running.
    assert ("triage", "stopped") in states
    assert {clock for clock, state in states if state == "running"} == {"accept", "appointment"}
