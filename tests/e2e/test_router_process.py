"""The router as its own processes: two share the load; a broken directory is refused; fed by
intake through the real broker, its decision becomes the referral's status."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from devstack.samples import gp_referral
from devstack.samples import received_event as received
from devstack.services import ROOT, run_cli, service_process
from devstack.topics import ensure_topics
from shared.kafka import publish_events
from tests.support.kafka_reader import read_all
from tests.support.pii import identifiers_in
from tests.support.servers import Servers
from tests.support.waiting import eventually, joined, settled

OUTCOME_TOPICS = ("referrals.routed", "referrals.rejected", "referrals.triage")


def namespace(servers: Servers, prefix: str, schema: str) -> dict[str, str]:
    asyncio.run(ensure_topics(servers.kafka_bootstrap, prefix=prefix))
    return {
        "KAFKA_TOPIC_PREFIX": prefix,
        "ROUTER_DB_SCHEMA": schema,
        "ROUTER_CONSUMER_GROUP": f"router-{uuid.uuid4().hex[:8]}",
    }


async def decided(servers: Servers, prefix: str) -> list[dict[str, object]]:
    records = await read_all(servers.kafka_bootstrap, *(prefix + t for t in OUTCOME_TOPICS))
    return [json.loads(r.value or b"{}") for r in records]


def test_two_router_processes_share_the_load_and_decide_each_referral_once(
    servers: Servers, topic_prefix: str, db_schema: str
) -> None:
    env = namespace(servers, topic_prefix, db_schema)
    events = [received(referral_id=uuid.uuid4()) for _ in range(120)]
    with service_process("router", env) as first, service_process("router", env) as second:
        group = env["ROUTER_CONSUMER_GROUP"]
        asyncio.run(joined(servers.kafka_bootstrap, group, members=2))  # before the load

        asyncio.run(publish_events(servers.kafka_bootstrap, events, topic_prefix=topic_prefix))
        eventually(lambda: len(asyncio.run(decided(servers, topic_prefix))) >= len(events))
        asyncio.run(
            settled(
                servers.kafka_bootstrap,
                servers.database_url,
                prefix=topic_prefix,
                groups=[group],
                schemas=[db_schema],
            )
        )
        eventually(  # each process has written what it did
            lambda: (
                sum(p.output().count('"referral decided"') for p in (first, second)) >= len(events)
            )
        )
        outputs = [p.output() for p in (first, second)]

    decisions = asyncio.run(decided(servers, topic_prefix))
    assert sorted(str(d["referral_id"]) for d in decisions) == sorted(
        str(e.referral_id) for e in events
    )
    shares = [out.count('"referral decided"') for out in outputs]
    assert sum(shares) == len(events)
    assert all(share > 0 for share in shares), f"one process did all the work: {shares}"


def test_a_broken_directory_is_refused_at_start(tmp_path: Path, servers: Servers) -> None:
    broken = tmp_path / "directory.yaml"
    broken.write_text("policy: {}\nservices: {}\n")
    done = subprocess.run(
        [sys.executable, "-m", "router"],
        cwd=ROOT,
        env={**os.environ, "ROUTER_DIRECTORY": str(broken)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert str(broken) in done.stderr
    assert "policy.postnatal_window_months" in done.stderr
    assert "Traceback" not in done.stderr


def test_intake_feeds_the_router_and_the_decision_becomes_the_status(
    servers: Servers, topic_prefix: str, db_schema: str
) -> None:
    env = namespace(servers, topic_prefix, db_schema)
    env |= {
        "INTAKE_DB_SCHEMA": db_schema + "_in",
        "INTAKE_CONSUMER_GROUP": f"in-{uuid.uuid4().hex[:6]}",
    }
    with service_process("intake", env) as intake, service_process("router", env) as router:
        key = run_cli("intake", "keys", "create", "--organisation", "M85001", env=env)
        headers = {"Authorization": f"Bearer {key}"}
        answer = httpx.post(
            f"{intake.url}/v1/referrals", json=gp_referral(), headers=headers
        ).json()
        status = eventually(
            lambda: (
                (found := httpx.get(f"{intake.url}{answer['status_url']}", headers=headers).json())[
                    "decision"
                ]
                and found
            )
        )
        logs = intake.output() + router.output()
    assert status["status"] == "routed"
    assert status["decision"]["destination"]["id"] == "pelvic-bsol"
    assert identifiers_in(logs) == []


def test_triage_from_the_command_line_is_published_by_the_running_router(
    servers: Servers, topic_prefix: str, db_schema: str
) -> None:
    env = namespace(servers, topic_prefix, db_schema)
    unknown = received(postcode_district="ZZ1")
    with service_process("router", env):
        asyncio.run(publish_events(servers.kafka_bootstrap, [unknown], topic_prefix=topic_prefix))
        listed = eventually(
            lambda: (
                str(unknown.referral_id) in (out := run_cli("router", "triage", "list", env=env))
                and out
            )
        )
        assert "is not in the directory" in listed

        said = run_cli(
            "router",
            "triage",
            "resolve",
            str(unknown.referral_id),
            "--route-to",
            "pelvic-bsol",
            "--by",
            "sam.jones",
            "--reason",
            "Checked: a new Birmingham estate.",
            env=env,
        )
        assert "routed to Birmingham and Solihull" in said
        assert run_cli("router", "triage", "list", env=env) == "nothing awaits triage"
        routed = eventually(
            lambda: [
                d for d in asyncio.run(decided(servers, topic_prefix)) if d["outcome"] == "routed"
            ]
        )
    assert routed[0]["decided_by"] == "sam.jones"  # an account, never a person's name
