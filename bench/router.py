"""Benchmark the router (not part of the test suite).

    uv run python -m bench.router [--decisions 20000] [--events 3000]

- rule engine alone: decisions/s over varied referrals, against parsing the same events
  (`ReferralReceived.model_validate_json`) as the baseline;
- one router process end to end: N `referrals.received` events in, until N decisions are on
  the outcome topics, against the raw aiokafka produce-and-consume rate on the same broker.
Writes bench/results/router.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench.common import ensure_stack, peak_rss_mb, save_results
from devstack.samples import received_event as received
from devstack.services import service_process
from devstack.topics import ensure_topics
from router.domain.rules import decide
from shared.clock import days_from_today, today
from shared.contracts import ReferralReceived
from shared.directory import load_directory
from shared.kafka import publish_events

OUTCOMES = ("referrals.routed", "referrals.rejected", "referrals.triage")
VARIED = [
    {},
    {"service": "thrive", "referrer_role": "self", "referrer_organisation_code": None},
    {"postcode_district": "ZZ1"},
    {"service": "contraception", "postcode_district": "ME14"},
    {
        "service": "maternal-medicine",
        "referrer_role": "consultant-obstetrician",
        "pregnancy_status": "pregnant",
        "delivery_date": None,
        "expected_delivery_date": days_from_today(89),
        "conditions": ("cardiac",),
    },
]


def engine(n: int) -> dict[str, float]:
    directory = load_directory()
    referrals = [received(**VARIED[i % len(VARIED)]) for i in range(n)]
    raw = [r.model_dump_json().encode() for r in referrals]
    began = time.perf_counter()
    for payload in raw:
        ReferralReceived.model_validate_json(payload)
    parse_s = time.perf_counter() - began
    as_of = today()  # the samples' dates are computed from today too
    began = time.perf_counter()
    for referral in referrals:
        decide(referral, directory, as_of)
    decide_s = time.perf_counter() - began
    return {"engine_decisions_per_s": n / decide_s, "baseline_parse_per_s": n / parse_s}


async def drain(bootstrap: str, topics: list[str], expected: int) -> None:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen = 0
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            seen += sum(len(v) for v in batch.values())
    finally:
        await consumer.stop()


async def raw_kafka(bootstrap: str, topic: str, n: int, payload: bytes) -> float:
    """The baseline: aiokafka producing (acks=all, idempotent) and consuming n messages."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    began = time.perf_counter()
    try:
        sends = [await producer.send(topic, payload, key=str(i).encode()) for i in range(n)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    await drain(bootstrap, [topic], n)
    rate = n / (time.perf_counter() - began)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])  # a benchmark's scratch topic is not kept
    finally:
        await admin.close()
    return rate


async def service(bootstrap: str, prefix: str, n: int) -> float:
    events = [received(**VARIED[i % len(VARIED)]) for i in range(n)]
    began = time.perf_counter()
    await publish_events(bootstrap, events, topic_prefix=prefix, client_id="bench")
    await drain(bootstrap, [prefix + t for t in OUTCOMES], n)
    return n / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=3_000)
    args = parser.parse_args()
    results: dict[str, Any] = engine(args.decisions)
    results["engine_to_parse_ratio"] = (
        results["engine_decisions_per_s"] / results["baseline_parse_per_s"]
    )

    ensure_stack()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    asyncio.run(ensure_topics(bootstrap, prefix=prefix))
    payload = received().model_dump_json().encode()
    results["baseline_raw_kafka_msgs_per_s"] = asyncio.run(
        raw_kafka(bootstrap, prefix + "bench.raw", args.events, payload)
    )
    env = {
        "KAFKA_TOPIC_PREFIX": prefix,
        "ROUTER_DB_SCHEMA": f"bench_{uuid.uuid4().hex[:8]}",
        "ROUTER_CONSUMER_GROUP": f"bench-router-{uuid.uuid4().hex[:6]}",
        "LOG_LEVEL": "WARNING",
    }
    with service_process("router", env) as router:
        time.sleep(2)
        results["service_decisions_per_s"] = asyncio.run(service(bootstrap, prefix, args.events))
        results["router_peak_rss_mb"] = peak_rss_mb(router.process.pid)
    results["service_to_raw_kafka_ratio"] = (
        results["service_decisions_per_s"] / results["baseline_raw_kafka_msgs_per_s"]
    )
    results["events"] = args.events
    save_results("router", results)
    rows = [
        (
            "rule engine alone",
            f"{results['engine_decisions_per_s']:,.0f} decisions/s",
            f"baseline parse {results['baseline_parse_per_s']:,.0f}/s, "
            f"ratio {results['engine_to_parse_ratio']:.2f}",
        ),
        (
            "router service, end to end",
            f"{results['service_decisions_per_s']:,.0f} decisions/s",
            f"baseline raw aiokafka {results['baseline_raw_kafka_msgs_per_s']:,.0f} msgs/s, "
            f"ratio {results['service_to_raw_kafka_ratio']:.3f}",
        ),
        ("router peak memory", f"{results['router_peak_rss_mb']:.0f} MB", results["machine"]),
    ]
    for name, value, extra in rows:
        print(f"{name:<28} {value:>22}  {extra}")


if __name__ == "__main__":
    main()
