"""Benchmark one intake process on the real servers (not part of the test suite).

    uv run python -m bench.intake [--seconds 15] [--connections 32] [--events 3000]

Measures, in one run and against the same process:
- baseline: GET /health/live (the HTTP stack with no work), the ceiling for any endpoint;
- POST /v1/referrals: validated, stored with its outbox row, answered 202;
- hand-off: until every referral's `referrals.received` event is on the broker;
- self-referral events: N sealed events on the topic until N `referrals.received` events.
Writes bench/results/intake.json and prints a table. Kafka and PostgreSQL come from
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL, else the local stack (started if needed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench.common import RESULTS, ensure_stack, peak_rss_mb, save_results
from devstack.samples import gp_referral, self_referral
from devstack.services import run_cli, service_process
from devstack.topics import ensure_topics
from shared.contracts import SelfReferralSubmitted
from shared.kafka import publish_events
from shared.sealed import generate_keypair, seal


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict[str, float]:
    """Load from a second process (wrk, Debian's package): a Python client on the same two
    cores would measure itself, not the service."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    found: dict[str, float] = {"non_2xx": 0.0}
    for line in out.splitlines():
        words = line.split()
        if line.strip().startswith(("50%", "90%", "99%")):
            found[f"p{words[0].rstrip('%')}_ms"] = _ms(words[1])
        elif "requests in" in line:
            found["requests"] = float(words[0])
        elif line.startswith("Requests/sec:"):
            found["rps"] = float(words[1])
        elif line.strip().startswith("Non-2xx"):
            found["non_2xx"] = float(words[-1])
    return found


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * factor
    return float(text)


def ensure_wrk() -> None:
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)


async def count_until(bootstrap: str, topic: str, expected: int, within: float = 300) -> float:
    """Seconds until `expected` records are on `topic` (read from the beginning)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen, began = 0, time.perf_counter()
    try:
        while seen < expected:
            if time.perf_counter() - began > within:
                raise TimeoutError(f"only {seen} of {expected} events on {topic}")
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            seen += sum(len(records) for records in batch.values())
        return time.perf_counter() - began
    finally:
        await consumer.stop()


async def run(args: argparse.Namespace, env: dict[str, str], url: str, key: str) -> dict[str, Any]:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = env["KAFKA_TOPIC_PREFIX"]
    received = prefix + "referrals.received"

    baseline = wrk(f"{url}/health/live", args.seconds, args.connections)
    RESULTS.mkdir(parents=True, exist_ok=True)  # the wrk body and script live beside results
    body = RESULTS / "gp_referral.json"
    body.write_text(json.dumps(gp_referral()))
    script = RESULTS / "post_referral.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = io.open("{body}"):read("*a")\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    began = time.perf_counter()
    post = wrk(f"{url}/v1/referrals", args.seconds, args.connections, script)
    accepted = int(post["requests"] - post["non_2xx"])
    await count_until(bootstrap, received, accepted)
    handoff_total = time.perf_counter() - began

    # Self-referral events: published as fast as one producer can, then drained by intake.
    public_key = env["INTAKE_PUBLIC_KEY"]
    payload = json.dumps(self_referral()).encode()
    events = [
        SelfReferralSubmitted(
            correlation_id=str(uuid.uuid4()),
            source="bench",
            sealed_submission=seal(public_key, payload),
        )
        for _ in range(args.events)
    ]
    began = time.perf_counter()
    await publish_events(bootstrap, events, topic_prefix=prefix, client_id="bench")
    await count_until(bootstrap, received, accepted + args.events)
    events_s = time.perf_counter() - began

    return {
        "connections": args.connections,
        "seconds": args.seconds,
        "baseline_health_rps": baseline["rps"],
        "baseline_p50_ms": baseline["p50_ms"],
        "post_requests": post["requests"],
        "post_rps": post["rps"],
        "post_non_2xx": post["non_2xx"],
        "post_p50_ms": post["p50_ms"],
        "post_p90_ms": post["p90_ms"],
        "post_p99_ms": post["p99_ms"],
        "post_to_baseline_ratio": post["rps"] / baseline["rps"],
        "handoff_lag_after_load_s": max(0.0, handoff_total - args.seconds),
        "self_referral_events": args.events,
        "self_referral_events_per_s": args.events / events_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="Length of each HTTP load.")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--events", type=int, default=3000)
    args = parser.parse_args()
    ensure_wrk()

    ensure_stack()
    private, public = generate_keypair()
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    env = {
        "KAFKA_TOPIC_PREFIX": prefix,
        "INTAKE_DB_SCHEMA": f"bench_{uuid.uuid4().hex[:8]}",
        "INTAKE_PRIVATE_KEY": private,
        "INTAKE_CONSUMER_GROUP": f"bench-intake-{uuid.uuid4().hex[:6]}",
        "LOG_LEVEL": "WARNING",
    }
    asyncio.run(ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"], prefix=prefix))
    with service_process("intake", env) as intake:
        key = run_cli("intake", "keys", "create", "--organisation", "M85001", env=env)
        results = asyncio.run(run(args, {**env, "INTAKE_PUBLIC_KEY": public}, intake.url, key))
        results["intake_peak_rss_mb"] = peak_rss_mb(intake.process.pid)
    save_results("intake", results)
    print_table(results)


def print_table(r: dict[str, Any]) -> None:
    rows = [
        (
            "baseline GET /health/live",
            f"{r['baseline_health_rps']:.0f} req/s",
            f"p50 {r['baseline_p50_ms']:.1f} ms",
        ),
        (
            "POST /v1/referrals (202)",
            f"{r['post_rps']:.0f} req/s",
            f"p50 {r['post_p50_ms']:.1f} / p90 {r['post_p90_ms']:.1f}"
            f" / p99 {r['post_p99_ms']:.1f} ms",
        ),
        (
            "  ratio to baseline",
            f"{r['post_to_baseline_ratio']:.3f}",
            f"non-2xx {r['post_non_2xx']:.0f}",
        ),
        (
            "  hand-off to referrals.received",
            "all published",
            f"last event {r['handoff_lag_after_load_s']:.2f} s after the load ended",
        ),
        ("self-referral events -> received", f"{r['self_referral_events_per_s']:.0f} events/s", ""),
        ("intake peak memory", f"{r['intake_peak_rss_mb']:.0f} MB", r["machine"]),
    ]
    for name, value, extra in rows:
        print(f"{name:<36} {value:>18}  {extra}")


if __name__ == "__main__":
    main()
