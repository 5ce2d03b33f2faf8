"""Tracing through the three real processes: with the standard OTEL_* variables set, each
exports its spans over OTLP, and one referral's spans, from intake's POST through the router
to the notifier's call to Notify for her message, share one trace; intake's log lines name
that trace. No span attribute, in any process, holds a patient's details. With no OTEL_*
variable set, no process exports anything (the default)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from devstack.samples import gp_referral
from devstack.system import running_system
from devstack.topics import ensure_topics
from standins.client import Standins
from tests.support.otlp import Receiver, Span, otlp_receiver
from tests.support.pii import identifiers_in
from tests.support.servers import Servers
from tests.support.waiting import eventually

CLIENT = 3  # OTLP's SpanKind.SPAN_KIND_CLIENT


def mentioning(records: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    return [r for r in records if reference in str(r)]


def submitted(intake_url: str, key: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{intake_url}/v1/referrals", json=gp_referral(), headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def the_trace(receiver: Receiver) -> list[Span] | None:
    """The trace of the POST, once it holds the notifier's call to Notify for her SMS."""
    every = receiver.spans()
    posts = [s for s in every if s.service == "intake" and s.name == "POST /v1/referrals"]
    if len(posts) != 1:
        return None
    spans = [s for s in every if s.trace_id == posts[0].trace_id]
    told = [s for s in spans if s.service == "notifier" and s.name == "tell patient by sms"]
    calls = [s for s in spans if s.service == "notifier" and s.kind == CLIENT]
    if not told or not any(c.parent_id == told[0].span_id for c in calls):
        return None
    return spans


def test_one_referral_is_one_trace_from_the_post_to_her_message(
    servers: Servers, standins: Standins, topic_prefix: str
) -> None:
    asyncio.run(ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix))
    standins.reset()
    with otlp_receiver() as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "200"}
        with running_system(topic_prefix, standins, **otel) as system:
            answer = submitted(system.intake.url, system.referrer_key)
            reference = answer["tracking_reference"]
            eventually(lambda: mentioning(standins.records("notify"), reference))
            spans = eventually(lambda: the_trace(receiver), within=60)
            intake_log = system.intake.output()
        everything = receiver.spans()
    assert {s.service for s in spans} == {"intake", "router", "notifier"}
    router = [s for s in spans if s.service == "router"]
    assert any(s.name.endswith("referrals.received receive") for s in router)  # its hop
    assert any("referrals.routed" in s.name for s in router)  # and what it announced
    (post,) = [s for s in spans if s.name == "POST /v1/referrals"]
    assert post.parent_id == ""  # the trace starts at the POST
    lines = [json.loads(line) for line in intake_log.splitlines() if line.startswith("{")]
    assert any(line.get("trace_id") == post.trace_id for line in lines)  # logs name it
    shown = json.dumps([[s.name, s.attributes] for s in everything], default=str)
    assert identifiers_in(shown) == []


def test_no_process_traces_unless_asked(
    servers: Servers, standins: Standins, topic_prefix: str
) -> None:
    asyncio.run(ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix))
    with running_system(topic_prefix, standins) as system:
        answer = submitted(system.intake.url, system.referrer_key)
        eventually(lambda: mentioning(standins.records("notify"), answer["tracking_reference"]))
        logs = "".join(p.output() for p in system.processes)
    lines = [json.loads(x) for x in logs.splitlines() if x.startswith("{")]
    assert lines  # the processes logged their work ...
    assert not any("trace_id" in line for line in lines)  # ... in no trace: tracing is off
