"""The promises as durable clocks through the real intake (PostgreSQL, Kafka), on an injected
clock: a routed referral's clock is set in the transaction that routed it; when it runs out it
fires once, though two firers run at once, though one dies mid-fire (in this process, and as
a process killed while it holds the clock), and its ReferralOverdue reaches the topic once,
naming no patient. Acceptance stops it."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from intake import service_layer, views
from intake.adapters.referral_store import PostgresReferrals
from intake.ports import UnitOfWork
from shared.contracts import AppointmentReminder, ReferralOverdue
from shared.directory import load_directory
from tests.integration.intake.test_journey_api import appointment
from tests.integration.intake.test_lifecycle_api import SITE, bearer, routed_referral
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake
from tests.support.waiting import arrives

ESCALATION = load_directory().escalation


async def fire(
    unit_of_work: UnitOfWork, now: datetime
) -> list[ReferralOverdue | AppointmentReminder]:
    return await service_layer.fire_due(unit_of_work, now, ESCALATION)


def store(intake: RunningIntake) -> UnitOfWork:
    pool = intake.service.database.pool
    return lambda: PostgresReferrals(pool)


async def due_at(intake: RunningIntake, referral_id: str, clock: str = "accept") -> datetime:
    async with intake.service.database.pool.acquire() as conn:
        found = await conn.fetchval(
            "SELECT due_at FROM deadlines WHERE referral_id = $1 AND clock = $2"
            " AND state = 'running'",
            UUID(referral_id),
            clock,
        )
    assert isinstance(found, datetime), f"no running {clock} clock"
    return found


async def test_a_broken_promise_fires_once_however_many_firers_and_after_one_dies(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    referral = await routed_referral(intake, referrer)
    due = await due_at(intake, referral["referral_id"])

    assert await fire(store(intake), due - timedelta(minutes=1)) == []

    class DiesMidFire(PostgresReferrals):
        async def fire_clocks(self, fired: Sequence[tuple[UUID, bool]], at: datetime) -> None:
            raise RuntimeError("killed while firing")

    pool = intake.service.database.pool
    try:
        await fire(lambda: DiesMidFire(pool), due)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the firer should have died")
    assert await due_at(intake, referral["referral_id"]) == due  # still running: fires again

    first, second = await asyncio.gather(fire(store(intake), due), fire(store(intake), due))
    assert len(first) + len(second) == 1
    (record,) = await intake.wait_events("referrals.overdue", referral["referral_id"])
    assert identifiers_in(record.value.decode()) == []
    overdue = json.loads(record.value)
    assert (overdue["clock"], overdue["site"], overdue["state"]) == ("accept", SITE, "routed")
    assert await fire(store(intake), due + timedelta(days=60)) == []


async def test_acceptance_stops_the_clock_in_its_own_transaction(intake: RunningIntake) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    referral = await routed_referral(intake, referrer)
    due = await due_at(intake, referral["referral_id"])
    accepted = await intake.client.post(
        f"/v1/referrals/{referral['referral_id']}/accept", headers=bearer(clinic)
    )
    assert accepted.status_code == 200
    booking_due = await due_at(intake, referral["referral_id"], "book")
    assert booking_due > due - timedelta(days=1)  # booking has its own, later promise
    fired = await fire(store(intake), due + timedelta(minutes=1))
    assert all(e.referral_id != UUID(referral["referral_id"]) for e in fired)


CLAIM_AND_HANG = textwrap.dedent(
    """
    import asyncio, sys, asyncpg
    async def main(dsn, schema, now):
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
        tx = conn.transaction()
        await tx.start()
        rows = await conn.fetch(
            "SELECT deadline_id FROM deadlines WHERE state = 'running'"
            " AND due_at <= $1::text::timestamptz FOR UPDATE SKIP LOCKED", now)
        print(len(rows), flush=True)
        await asyncio.sleep(600)
    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_a_process_killed_while_it_holds_a_clock_leaves_it_to_fire_once(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    referral = await routed_referral(intake, referrer)
    due = await due_at(intake, referral["referral_id"])
    later = due + timedelta(minutes=1)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLAIM_AND_HANG, str(intake.settings.database_url),
        intake.settings.db_schema, later.isoformat(), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        claimed = await child.stdout.readline()
        assert int(claimed) >= 1  # it holds the clock, mid-fire
        mine = [
            e
            for e in await fire(store(intake), later)
            if e.referral_id == UUID(referral["referral_id"])
        ]
        assert mine == []  # held by the other process: passed over, not fired twice
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()

    async def fired_now() -> list[object]:  # once PostgreSQL ended the killed one's transaction
        return [
            e
            for e in await fire(store(intake), later)
            if e.referral_id == UUID(referral["referral_id"])
        ]

    assert len(await arrives(fired_now)) == 1
    records = await intake.wait_events("referrals.overdue", referral["referral_id"])
    assert len(records) == 1


async def test_an_overdue_referral_comes_first_on_the_worklist_until_its_next_step(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    older = await routed_referral(intake, referrer)
    late = await routed_referral(intake, referrer)
    async with intake.service.database.pool.acquire() as conn:  # the older one: later promise
        await conn.execute(
            "UPDATE deadlines SET due_at = due_at + interval '30 days' WHERE referral_id = $1",
            UUID(older["referral_id"]),
        )
    fired = await fire(store(intake), await due_at(intake, late["referral_id"]))
    assert [e.referral_id for e in fired] == [UUID(late["referral_id"])]

    async def listed() -> list[tuple[str, bool]]:
        page = await intake.client.get("/v1/clinic/referrals", headers=bearer(clinic))
        return [(r["referral_id"], r["overdue"]) for r in page.json()["referrals"]]

    assert await listed() == [(late["referral_id"], True), (older["referral_id"], False)]
    async with intake.service.database.pool.acquire() as conn:
        (shown,) = await views.overdue(conn)  # what `referrals overdue` prints
    assert (shown.tracking_reference, shown.site, shown.clocks) == (
        late["tracking_reference"], SITE, ["accept"],
    )  # fmt: skip
    accepted = await intake.client.post(
        f"/v1/referrals/{late['referral_id']}/accept", headers=bearer(clinic)
    )
    assert accepted.status_code == 200
    booking = await intake.client.get(
        "/v1/clinic/referrals", params={"state": "accepted"}, headers=bearer(clinic)
    )
    assert [r["overdue"] for r in booking.json()["referrals"]] == [False]  # it moved on
    async with intake.service.database.pool.acquire() as conn:
        assert await views.overdue(conn) == []


async def test_a_reminder_fires_once_before_the_appointment_and_not_for_the_old_day(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    referral = await routed_referral(intake, referrer)
    referral_id = UUID(referral["referral_id"])
    base = f"/v1/referrals/{referral_id}"
    for action, body in (
        ("accept", None),
        ("book", {"appointment": appointment(9)}),
        ("book", {"appointment": appointment(16, "telephone")}),  # changed: a new day
    ):
        answer = await intake.client.post(f"{base}/{action}", json=body, headers=bearer(clinic))
        assert answer.status_code == 200, answer.text
    async with intake.service.database.pool.acquire() as conn:
        reminders = await conn.fetch(
            "SELECT state, due_at FROM deadlines WHERE referral_id = $1 AND clock = 'reminder'"
            " ORDER BY due_at",
            referral_id,
        )
    assert [r["state"] for r in reminders] == ["stopped", "running"]
    old_day, new_day = (r["due_at"] for r in reminders)
    hours = load_directory().journey_for("pelvic-health", SITE).appointment_reminder.hours_before
    assert new_day == datetime.fromisoformat(appointment(16)["starts_at"]) - timedelta(hours=hours)

    def mine(fired: list[ReferralOverdue | AppointmentReminder]) -> list[AppointmentReminder]:
        return [
            e for e in fired if e.referral_id == referral_id and isinstance(e, AppointmentReminder)
        ]

    assert mine(await fire(store(intake), old_day)) == []  # the changed day's is stopped
    (reminder,) = mine(await fire(store(intake), new_day))
    assert reminder.appointment.mode == "telephone"
    assert mine(await fire(store(intake), new_day + timedelta(days=1))) == []
    (record,) = await intake.wait_events("referrals.reminders", str(referral_id))
    assert identifiers_in(record.value.decode()) == []
    async with intake.service.database.pool.acquire() as conn:
        assert await views.overdue(conn) == []  # a reminder is no breach
