"""Patient details kept no longer than needed, through the real intake (PostgreSQL): a
finished referral's details are erased the directory's time after it finished, on an
injected clock, with its history intact and the erasure in the audit log; an active one is
kept; an erasure on request (the command operators type) is refused while the referral is
active unless forced with a reason, and audited."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from intake.__main__ import cli
from intake.adapters.referral_store import PostgresReferrals
from intake.ports import UnitOfWork
from intake.service_layer.retention import StillActive, erase_finished, erase_on_request
from ops.__main__ import cli as ops_cli
from shared.directory import load_directory
from tests.integration.intake.test_lifecycle_api import SITE, bearer, routed_referral
from tests.support.running import RunningIntake

RETENTION = load_directory().retention
KEEP = timedelta(days=RETENTION.erase_details_after_days)


def store(intake: RunningIntake) -> UnitOfWork:
    pool = intake.service.database.pool
    return lambda: PostgresReferrals(pool)


async def returned_referral(intake: RunningIntake, referrer: str) -> dict[str, Any]:
    clinic = await intake.new_key(SITE, scope="clinic")
    referral = await routed_referral(intake, referrer)
    answer = await intake.client.post(
        f"/v1/referrals/{referral['referral_id']}/return",
        json={"reason_code": "wrong-service"},
        headers=bearer(clinic),
    )
    assert answer.status_code == 200, answer.text
    return referral


async def kept_row(intake: RunningIntake, referral_id: str) -> Any:
    async with intake.service.database.pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT submission, finished_at, erased_at, status FROM referrals"
            " WHERE referral_id = $1",
            UUID(referral_id),
        )


async def audit_of(intake: RunningIntake, referral_id: str) -> list[Any]:
    async with intake.service.database.pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT actor, action, reason, details FROM audit_log WHERE referral_id = $1",
                UUID(referral_id),
            )
        )


async def test_a_finished_referrals_details_are_erased_in_time_and_its_history_stays(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    notifier = await intake.new_key("NOTIFIER", scope="notifier")
    finished = await returned_referral(intake, referrer)
    active = await routed_referral(intake, referrer)
    finished_at = (await kept_row(intake, finished["referral_id"]))["finished_at"]
    assert isinstance(finished_at, datetime)
    before = await intake.client.get(
        f"/v1/referrals/{finished['referral_id']}", headers=bearer(referrer)
    )

    assert (
        await erase_finished(store(intake), finished_at + KEEP - timedelta(minutes=1), RETENTION)
        == 0
    )
    assert (await kept_row(intake, finished["referral_id"]))["submission"] is not None
    erased_now = finished_at + KEEP + timedelta(minutes=1)
    assert await erase_finished(store(intake), erased_now, RETENTION) >= 1
    assert await erase_finished(store(intake), erased_now, RETENTION) == 0  # once

    row = await kept_row(intake, finished["referral_id"])
    assert (row["submission"], row["erased_at"], row["status"]) == (None, erased_now, "returned")
    assert (await kept_row(intake, active["referral_id"]))["submission"] is not None
    after = await intake.client.get(
        f"/v1/referrals/{finished['referral_id']}", headers=bearer(referrer)
    )
    assert after.status_code == 200
    assert after.json()["history"] == before.json()["history"]  # what happened stays
    assert after.json()["decision"] == before.json()["decision"]
    assert datetime.fromisoformat(after.json()["details_erased_at"]) == erased_now
    ((actor, action, reason, _),) = await audit_of(intake, finished["referral_id"])
    assert (actor, action) == ("intake retention", "erased-by-retention")
    assert str(RETENTION.erase_details_after_days) in reason

    contacts = await intake.client.post(
        "/v1/referrals/contacts",
        json={"referral_ids": [finished["referral_id"]]},
        headers=bearer(notifier),
    )
    found = contacts.json()["contacts"][finished["referral_id"]]
    assert (found["given_name"], found["mobile"], found["email"], found["address"]) == (
        "", None, None, None,
    )  # fmt: skip


async def test_an_erasure_on_request_is_refused_while_active_unless_forced_and_audited(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    active = await routed_referral(intake, referrer)
    now = datetime.now().astimezone()
    with pytest.raises(StillActive):
        await erase_on_request(
            store(intake), active["tracking_reference"], by="ops.jones", reason="asked", now=now
        )
    assert (await kept_row(intake, active["referral_id"]))["submission"] is not None
    with pytest.raises(ValueError, match="who asked"):
        await erase_on_request(
            store(intake), active["referral_id"], by="ops.jones", reason=" ", now=now, force=True
        )
    erased = await erase_on_request(
        store(intake), active["tracking_reference"].lower(), by="ops.jones",
        reason="She asked us to erase it (ticket 123)", now=now, force=True,
    )  # fmt: skip
    assert (erased.referral_id, erased.already) == (UUID(active["referral_id"]), False)
    ((actor, action, reason, details),) = await audit_of(intake, active["referral_id"])
    assert (actor, action, reason) == (
        "ops.jones",
        "erased",
        "She asked us to erase it (ticket 123)",
    )
    assert details == {"state": "routed", "forced_while_active": True}
    again = await erase_on_request(
        store(intake), active["referral_id"], by="ops.jones", reason="again", now=now
    )
    assert again.already
    assert len(await audit_of(intake, active["referral_id"])) == 1


@pytest.mark.parametrize("command", [cli, ops_cli], ids=["intake", "referrals"])
async def test_the_erase_command_refuses_an_active_referral_and_erases_a_finished_one(
    command: Any, intake: RunningIntake
) -> None:
    referrer = await intake.new_key("M85001")
    active = await routed_referral(intake, referrer)
    finished = await returned_referral(intake, referrer)
    env = {
        "DATABASE_URL": str(intake.settings.database_url),
        "INTAKE_DB_SCHEMA": intake.settings.db_schema,
    }

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(CliRunner().invoke, command, ["erase", *args], env=env)

    refused = await run(active["tracking_reference"], "--by", "ops.jones", "--reason", "asked")
    assert refused.exit_code == 1
    assert "still routed" in refused.output
    done = await run(finished["referral_id"], "--by", "ops.jones", "--reason", "She asked")
    assert done.exit_code == 0, done.output
    assert f"{finished['tracking_reference']}: details erased (returned)" in done.output
    assert (await kept_row(intake, finished["referral_id"]))["submission"] is None
    assert [(a["actor"], a["action"]) for a in await audit_of(intake, finished["referral_id"])] == [
        ("ops.jones", "erased")
    ]
    unknown = await run("RF-0000-0000", "--by", "ops.jones", "--reason", "x")
    assert unknown.exit_code == 1
