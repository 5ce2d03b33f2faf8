"""Silences become events, through two processes of each service and the provider stand-ins:
a broken promise is escalated once to each person it concerns though a firer dies mid-fire
and another process is killed; her SMS that Notify could not deliver is followed by exactly
one email, counted where the world sees it (the stand-in's delivered receipts); and her
appointment reminder comes once, for the day it was moved to, never for the old one.

Time is moved in the data, not waited for: a clock's `due_at` is set to the past, as if its
day had come (the clock workers read the real time; the service layer's own tests inject it).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.samples import gp_referral
from devstack.services import ROOT, ServiceProcess, run_cli, service_process
from devstack.system import System, running_system
from devstack.topics import ensure_topics
from notifier.domain.plan import when_words
from shared.contracts import Appointment
from standins.client import Standins
from tests.support.kafka_reader import body, wait_for
from tests.support.pii import identifiers_in
from tests.support.servers import Servers
from tests.support.waiting import eventually, system_settled

SITE = "pelvic-bsol"
FIRE_AND_DIE = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import datetime
    from intake import service_layer
    from intake.adapters.referral_store import PostgresReferrals
    from intake.main import MIGRATIONS
    from shared.database import Database
    from shared.directory import load_directory

    class DiesMidFire(PostgresReferrals):
        async def fire_clocks(self, fired, at):
            print(len(fired), flush=True)  # claimed and about to mark them: killed here
            await asyncio.sleep(600)

    async def main(dsn, schema, now):
        database = Database(dsn, schema, MIGRATIONS)
        await database.open()
        escalation = load_directory().escalation
        await service_layer.fire_due(
            lambda: DiesMidFire(database.pool), datetime.fromisoformat(now), escalation
        )

    asyncio.run(main(*sys.argv[1:]))
    """
)


class Twice:
    """Two processes of each service on one namespace, schemas and consumer groups."""

    def __init__(self, servers: Servers, system: System, twins: list[ServiceProcess]) -> None:
        self.servers, self.system, self.twins = servers, system, twins
        self.env = system.env
        self.clinic = run_cli(
            "intake", "keys", "create", "--organisation", SITE, "--scope", "clinic",
            env=self.env,
        )  # fmt: skip

    @property
    def processes(self) -> list[ServiceProcess]:
        return [*self.system.processes, *self.twins]

    def post(self, path: str, key: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.system.intake.url}{path}", json=json,
            headers={"Authorization": f"Bearer {key}"},
        )  # fmt: skip
        assert answer.status_code in (200, 202), answer.text
        return dict(answer.json())

    def stands(self, referral: dict[str, Any], state: str) -> None:
        url = f"{self.system.intake.url}{referral['status_url']}"
        headers = {"Authorization": f"Bearer {self.system.referrer_key}"}
        eventually(lambda: httpx.get(url, headers=headers).json().get("status") == state)

    def sql(self, statement: str, *args: Any) -> list[Any]:
        async def run() -> list[Any]:
            conn = await asyncpg.connect(
                self.servers.database_url,
                server_settings={"search_path": self.env["INTAKE_DB_SCHEMA"]},
            )
            try:
                return list(await conn.fetch(statement, *args))
            finally:
                await conn.close()

        return asyncio.run(run())

    def settled(self) -> None:
        asyncio.run(
            system_settled(self.servers.kafka_bootstrap, self.servers.database_url, self.env)
        )


@pytest.fixture
def twice(servers: Servers, standins: Standins, topic_prefix: str) -> Iterator[Twice]:
    standins.reset()
    asyncio.run(ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix))
    quick = {
        "INTAKE_CLOCK_INTERVAL_SECONDS": "0.3",
        "NOTIFIER_FALLBACK_INTERVAL_SECONDS": "0.3",
        "NOTIFIER_LEASE_SECONDS": "16",  # a killed notifier's messages wait this long at most
    }
    with running_system(topic_prefix, standins, **quick) as system, ExitStack() as stack:
        twins = [
            stack.enter_context(service_process(name, system.env))
            for name in ("intake", "router", "notifier")
        ]
        yield Twice(servers, system, twins)


def mentioning(records: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    return [r for r in records if reference in str(r)]


def test_a_broken_promise_is_escalated_once_to_each_though_a_firer_dies_mid_fire(
    twice: Twice, standins: Standins
) -> None:
    referral = twice.post("/v1/referrals", twice.system.referrer_key, gp_referral())
    reference, referral_id = referral["tracking_reference"], uuid.UUID(referral["referral_id"])
    twice.stands(referral, "routed")
    eventually(lambda: mentioning(standins.records("notify"), reference))  # the routed SMS
    ((due,),) = twice.sql(
        "SELECT due_at FROM deadlines WHERE referral_id = $1 AND clock = 'accept'", referral_id
    )

    # An intake firer claims the broken promise and is killed before it marks it fired.
    firer = subprocess.Popen(
        [sys.executable, "-c", FIRE_AND_DIE, twice.servers.database_url,
         twice.env["INTAKE_DB_SCHEMA"], (due + timedelta(minutes=1)).isoformat()],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert firer.stdout is not None
        assert int(firer.stdout.readline()) == 1  # it holds the clock, mid-fire
    finally:
        firer.kill()
        firer.wait()
    ((state,),) = twice.sql(
        "SELECT state FROM deadlines WHERE referral_id = $1 AND clock = 'accept'", referral_id
    )
    assert state == "running"  # its transaction died with it: the clock runs still

    # Her next SMS will not be delivered (the overdue news): it falls back to her email.
    standins.fault("notify_receipt", status="permanent-failure")
    # The promise's day comes for the two live intakes; one of each twin is killed.
    twice.sql(
        "UPDATE deadlines SET due_at = now() - interval '1 second'"
        " WHERE referral_id = $1 AND clock = 'accept'",
        referral_id,
    )
    twice.twins[0].kill()  # an intake: firing or not, the other fires it
    twice.twins[2].kill()  # a notifier: its leases end, the other sends what it held

    def to(kind: str) -> list[dict[str, Any]]:
        return mentioning(standins.records(kind), reference)

    def overdue_hooks() -> list[dict[str, Any]]:
        return [h for h in to("webhook") if h["body"]["event"] == "referral.overdue"]

    eventually(lambda: overdue_hooks() and len(to("notify")) == 3 and len(to("email")) == 1, 90)
    twice.settled()
    assert len(overdue_hooks()) == 1
    routed_sms, overdue_sms, overdue_email = to("notify")
    assert [m["type"] for m in (routed_sms, overdue_sms, overdue_email)] == ["sms", "sms", "email"]
    assert "has not been forgotten" in overdue_email["personalisation"]["body"]
    (to_gp,) = to("email")
    assert "overdue" in str(to_gp).lower()

    # Counted where the world sees it: one message of each step *delivered* to her.
    delivered = {r["reference"] for r in standins.delivered()}
    assert [m["reference"] in delivered for m in to("notify")] == [True, False, True]

    events = asyncio.run(
        wait_for(
            twice.servers.kafka_bootstrap,
            twice.env["KAFKA_TOPIC_PREFIX"] + "referrals.overdue",
            lambda r: body(r)["referral_id"] == str(referral_id),
        )
    )
    assert len(events) == 1
    assert identifiers_in(str([body(e) for e in events])) == []
    assert identifiers_in("".join(p.output() for p in twice.processes)) == []
    alive = [*twice.system.processes, twice.twins[1]]
    metrics = "".join(httpx.get(f"{p.url}/metrics").text for p in alive)
    assert 'notification_fallbacks_total{from_channel="sms",to_channel="email"} 1.0' in metrics
    assert identifiers_in(metrics) == []


def test_a_reminder_comes_once_for_the_day_the_appointment_was_moved_to(
    twice: Twice, standins: Standins
) -> None:
    referral = twice.post("/v1/referrals", twice.system.referrer_key, gp_referral())
    reference, referral_id = referral["tracking_reference"], uuid.UUID(referral["referral_id"])
    twice.stands(referral, "routed")
    day = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = {"starts_at": (day + timedelta(days=9)).isoformat(), "mode": "in-person",
             "place": "Room 4, Solihull Hospital"}  # fmt: skip
    moved = {**first, "starts_at": (day + timedelta(days=16)).isoformat()}
    twice.post(f"{referral['status_url']}/accept", twice.clinic)
    twice.post(f"{referral['status_url']}/book", twice.clinic, {"appointment": first})
    twice.post(f"{referral['status_url']}/book", twice.clinic, {"appointment": moved})

    def to_her() -> list[str]:
        return [
            m["personalisation"]["body"] for m in mentioning(standins.records("notify"), reference)
        ]

    eventually(lambda: len(to_her()) == 4)  # routed, accepted, booked, moved
    # Both reminders' days come: the moved appointment's, and the first one's (stopped).
    twice.sql(
        "UPDATE deadlines SET due_at = now() - interval '1 second'"
        " WHERE referral_id = $1 AND clock = 'reminder'",
        referral_id,
    )
    eventually(lambda: len(to_her()) == 5)
    twice.settled()
    reminders = [text for text in to_her() if "a reminder of your NHS appointment" in text]
    assert len(reminders) == 1
    assert when_words(Appointment.model_validate(moved)) in reminders[0]
    assert len(to_her()) == 5
