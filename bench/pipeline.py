"""The whole pipeline on the real servers: intake, router and notifier as separate processes,
the provider stand-ins, Kafka and PostgreSQL, and this load generator, all on one machine.

    uv run python -m bench.pipeline [--referrals 4000] [--rate 20] [--seconds 20]
                                    [--processes 1 2] [--burst 3000]

Reports, in one run (the raw baseline first; Notify's limit lifted, in the notifier and the
stand-in alike, for the throughput and latency phases, so that they measure the pipeline; and
the webhook deliveries in flight to one host raised to STANDIN_HOST_DELIVERIES, since the one
stand-in host receives what every clinic's own host would):
- sustained throughput, referrals/s fully notified (patient SMS and clinic webhook both
  sent), through the Kafka self-referral path and through the HTTP API;
- end-to-end latency p50/p95/p99 (self-referral event published -> last notification sent)
  at a fixed offered rate below any limit in force, after a 5 s pause, with each stage;
- the CPU time each part spent per referral in each throughput phase (the services, the
  stand-ins, the load generator, Kafka and PostgreSQL): with everything on two cores, the sum
  is what bounds the throughput;
- the raw aiokafka produce-and-consume rate on the same broker (baseline) and the ratio;
- each service's peak resident memory;
- with `--processes 1 2`, the throughput of one and of two processes of each service;
- a burst against Notify's real limit (3,000 a minute, in the notifier and the stand-in):
  the share of the limit used, and that nothing failed.
Stops what it started, deletes its topics; writes bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx

from bench.burst import burst
from bench.common import RESULTS, ensure_stack, peak_rss_mb, save_results, stop_stack
from bench.cpu import cpu_ms_per_item, cpu_seconds
from bench.profile import profiled
from bench.router import raw_kafka
from devstack.samples import gp_referral, self_referral
from devstack.system import System, running_system
from devstack.topics import delete_namespace, ensure_topics
from shared.contracts import SelfReferralSubmitted
from shared.database import connect
from shared.kafka import build_broker, publish_event, publish_events, records_compiled
from shared.sealed import generate_keypair, seal
from standins.client import standins_process

# A self-referral that is routed (pelvic health, Birmingham): an SMS and a webhook each.
SELF = self_referral(**{"patient.postcode": "B1 1AA", "patient.contact_preferences": ["sms"]})
GP = gp_referral()
SETTLE_SECONDS = 5


async def notified(dsn: str, schema: str) -> dict[str, datetime]:
    """Referral id -> when its last notification was sent, for fully notified referrals."""
    conn = await connect(dsn)
    try:
        if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.notifications") is None:
            return {}
        rows = await conn.fetch(
            f"SELECT referral_id::text AS id, max(finished_at) AS done FROM {schema}.notifications"
            " GROUP BY referral_id"
            " HAVING count(*) FILTER (WHERE status IN ('sent', 'delivered')) >= 2"
        )
        return {r["id"]: r["done"] for r in rows}
    finally:
        await conn.close()


async def wait_notified(
    dsn: str, schema: str, ids: set[str], within: float = 600
) -> dict[str, datetime]:
    deadline = time.monotonic() + within
    while True:
        done = await notified(dsn, schema)
        if ids <= done.keys() or time.monotonic() > deadline:
            return {i: done[i] for i in ids if i in done}
        await asyncio.sleep(0.5)


def sealed_event(public_key: str) -> SelfReferralSubmitted:
    from intake.domain.tracking import new_tracking_reference

    return SelfReferralSubmitted(
        correlation_id=str(uuid.uuid4()),
        source="bench-form",
        referral_id=uuid.uuid4(),
        tracking_reference=new_tracking_reference(),
        sealed_submission=seal(public_key, json.dumps(SELF).encode()),
    )


async def kafka_path(env: dict[str, str], public_key: str, n: int) -> float:
    events = [sealed_event(public_key) for _ in range(n)]
    began = time.perf_counter()
    await publish_events(
        os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        events,
        topic_prefix=env["KAFKA_TOPIC_PREFIX"],
        client_id="bench",
    )
    ids = {str(e.referral_id) for e in events}
    done = await wait_notified(os.environ["DATABASE_URL"], env["NOTIFIER_DB_SCHEMA"], ids)
    return len(done) / (time.perf_counter() - began)


async def http_path(env: dict[str, str], intakes: list[str], key: str, n: int) -> float:
    """32 connections kept busy, shared among intake's processes. aiohttp, not httpx: the
    generator shares the two cores, and httpx costs about 2 ms of CPU per request at this
    concurrency (bench/RESULTS.md)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = json.dumps(GP).encode()
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def submit(i: int) -> str | None:
            url = f"{intakes[i % len(intakes)]}/v1/referrals"
            async with session.post(url, data=body, headers=headers) as answer:
                if answer.status != 202:
                    return None
                return str((await answer.json())["referral_id"])

        began = time.perf_counter()
        answers = await asyncio.gather(*(submit(i) for i in range(n)))
    ids = {a for a in answers if a is not None}
    done = await wait_notified(os.environ["DATABASE_URL"], env["NOTIFIER_DB_SCHEMA"], ids)
    return len(done) / (time.perf_counter() - began)


async def latency(
    env: dict[str, str], public_key: str, rate: float, seconds: int
) -> tuple[list[float], dict[str, list[float]]]:
    """End-to-end milliseconds per referral, sorted, and the same split by stage."""
    topic = env["KAFKA_TOPIC_PREFIX"] + "referrals.self-referral"
    sent_at: dict[str, datetime] = {}
    async with build_broker(os.environ["KAFKA_BOOTSTRAP_SERVERS"], "bench") as broker:
        began = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            event = sealed_event(public_key)
            sent_at[str(event.referral_id)] = datetime.now(UTC)
            await publish_event(broker, event, key=str(event.referral_id), topic=topic)
    done = await wait_notified(os.environ["DATABASE_URL"], env["NOTIFIER_DB_SCHEMA"], set(sent_at))
    stages = await stage_times(env, sent_at)
    return sorted((done[i] - sent_at[i]).total_seconds() * 1000 for i in done), stages


STAGE_QUERIES = {
    # stage name: (schema variable, query giving referral id -> when that stage ended)
    "stored by intake": (
        "INTAKE_DB_SCHEMA",
        "SELECT referral_id::text AS id, received_at AS at FROM {schema}.referrals",
    ),
    "decided by router": (
        "ROUTER_DB_SCHEMA",
        "SELECT referral_id::text AS id, min(decided_at) AS at FROM {schema}.decisions"
        " GROUP BY referral_id",
    ),
    "claimed by notifier": (
        "NOTIFIER_DB_SCHEMA",
        "SELECT referral_id::text AS id, min(claimed_at) AS at FROM {schema}.notifications"
        " GROUP BY referral_id",
    ),
    "notifications sent": (
        "NOTIFIER_DB_SCHEMA",
        "SELECT referral_id::text AS id, max(finished_at) AS at FROM {schema}.notifications"
        " GROUP BY referral_id",
    ),
}


async def stage_times(env: dict[str, str], sent_at: dict[str, datetime]) -> dict[str, list[float]]:
    """Milliseconds each stage added (from the previous stage's end; the first from the
    event's publication), from each service's own timestamps (transaction start times)."""
    conn = await connect(os.environ["DATABASE_URL"])
    try:
        previous, stages = dict(sent_at), {}
        for stage, (schema_variable, query) in STAGE_QUERIES.items():
            rows = await conn.fetch(query.format(schema=env[schema_variable]))
            ended = {r["id"]: r["at"] for r in rows if r["id"] in sent_at and r["at"]}
            stages[stage] = sorted(
                (ended[i] - previous[i]).total_seconds() * 1000 for i in ended if i in previous
            )
            previous = ended
        return stages
    finally:
        await conn.close()


def pct(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] if values else float("nan")
    )


UNLIMITED = 1_000_000  # Notify messages a minute: the limit lifted, so the pipeline is measured
NOTIFY_PER_MINUTE = 3000  # GOV.UK Notify's own limit, for the burst phase
# Deliveries in flight to one webhook host. The default (4 a clinic's host) protects a clinic's
# endpoint; here one stand-in host receives every clinic's deliveries, at a hundred referrals a
# second, and 4 at a time made its queue, not the pipeline, the measure.
STANDIN_HOST_DELIVERIES = 16
MESSAGES_PER_REFERRAL = 1  # the woman's SMS (the clinic's webhook does not go to Notify)


def throughput(system: System, standins_pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Both throughput phases on a running system, with the CPU each part spent."""
    env, key = system.env, system.referrer_key
    intakes = [p.url for p in system.of("intake")]
    public_key = httpx.get(f"{intakes[0]}/v1/self-referral-key").json()["public_key"]
    results: dict[str, Any] = {}
    time.sleep(3)  # every consumer in its group before the load arrives
    parts: dict[str, int | list[int]] = {
        name: [p.process.pid for p in system.of(name)] for name in ("intake", "router", "notifier")
    } | {"stand-ins": standins_pid, "load generator": os.getpid()}
    for path, run_path in (
        ("kafka_path", lambda: kafka_path(env, public_key, args.referrals)),
        ("http_path", lambda: http_path(env, intakes, key, args.referrals)),
    ):
        services = {name: pids for name, pids in parts.items() if isinstance(pids, list)}
        folder = RESULTS / path.split("_")[0]
        with profiled(services, folder) if args.profile else nullcontext():
            before = cpu_seconds(parts)
            results[f"{path}_referrals_per_s"] = asyncio.run(run_path())
            results[f"{path}_cpu_ms_per_referral"] = cpu_ms_per_item(
                before, cpu_seconds(parts), args.referrals
            )
    results["peak_rss_mb"] = {
        f"{p.name}-{i}" if len(system.of(p.name)) > 1 else p.name: peak_rss_mb(p.process.pid)
        for name in ("intake", "router", "notifier")
        for i, p in enumerate(system.of(name))
    }
    return results


def timed(system: System, args: argparse.Namespace) -> dict[str, Any]:
    """The latency phase, offered below whatever Notify limit is in force."""
    limit = float(system.env.get("NOTIFIER_NOTIFY_PER_MINUTE", NOTIFY_PER_MINUTE)) / 60
    if args.rate * MESSAGES_PER_REFERRAL >= limit:
        raise SystemExit(f"--rate {args.rate}/s would exceed the Notify limit ({limit:.0f}/s)")
    public_key = httpx.get(f"{system.intake.url}/v1/self-referral-key").json()["public_key"]
    # The bursts before leave PostgreSQL and the consumers catching their breath
    # (autovacuum, fetch backoff): the timed phase starts from a settled system.
    time.sleep(SETTLE_SECONDS)
    lat, stages = asyncio.run(latency(system.env, public_key, args.rate, args.seconds))
    return {
        "latency_samples": len(lat),
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
        "p99_ms": pct(lat, 99),
        "stage_ms": {
            stage: {"p50": pct(values, 50), "p99": pct(values, 99)}
            for stage, values in stages.items()
        },
    }


def on_a_system(processes: int, args: argparse.Namespace, *, with_latency: bool) -> dict[str, Any]:
    """A system of its own (topics, schemas) with `processes` of each service, Notify's limit
    lifted in the notifier and the stand-in alike; its topics deleted afterwards."""
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"pipe{uuid.uuid4().hex[:6]}."
    asyncio.run(ensure_topics(bootstrap, prefix=prefix))
    try:
        with (
            standins_process() as standins,  # no limit unless asked (--notify-per-minute)
            running_system(
                prefix, standins, replicas=processes, LOG_LEVEL="WARNING",
                NOTIFIER_NOTIFY_PER_MINUTE=str(UNLIMITED),
                NOTIFIER_WEBHOOK_PER_CLINIC=str(STANDIN_HOST_DELIVERIES),
            ) as system,
        ):  # fmt: skip
            results = throughput(system, standins.pid, args)
            if with_latency:
                results |= timed(system, args)
        return results
    finally:
        asyncio.run(delete_namespace(bootstrap, prefix))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--referrals", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=20, help="offered in the latency phase")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1],
        help="processes of each service; several (say 1 2) measure throughput for each",
    )  # fmt: skip
    parser.add_argument("--burst", type=int, default=3000, help="0: no burst phase")
    parser.add_argument(
        "--profile", action="store_true",
        help="sample each service with py-spy in the throughput phases (it costs CPU too: "
        "compare figures only between runs without it)",
    )  # fmt: skip
    args = parser.parse_args()
    started = ensure_stack()
    try:
        results = run(args)
    finally:
        if started:
            stop_stack()
    save_results("pipeline", results)
    report(results, args)


def run(args: argparse.Namespace) -> dict[str, Any]:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    results: dict[str, Any] = {
        "referrals": args.referrals,
        "offered_rate": args.rate,
        "notify_limit_lifted_to_per_minute": UNLIMITED,
        "webhook_deliveries_per_host": STANDIN_HOST_DELIVERIES,
        "aiokafka_c_extension": records_compiled(),
    }
    prefix = f"raw{uuid.uuid4().hex[:6]}."
    try:
        # What the self-referral topic carries: the submission sealed (here to a throwaway
        # key), never in clear, since every topic must be safe to watch.
        results["baseline_raw_kafka_msgs_per_s"] = asyncio.run(
            raw_kafka(
                bootstrap, prefix + "bench.raw", 5000,
                sealed_event(generate_keypair()[1]).model_dump_json().encode(),
            )
        )  # fmt: skip
    finally:
        asyncio.run(delete_namespace(bootstrap, prefix))
    for i, processes in enumerate(args.processes):
        measured = on_a_system(processes, args, with_latency=i == 0)
        if i == 0:
            results |= measured
        results.setdefault("scale", {})[str(processes)] = {
            "kafka_path_referrals_per_s": measured["kafka_path_referrals_per_s"],
            "http_path_referrals_per_s": measured["http_path_referrals_per_s"],
        }
    results["kafka_path_to_raw_ratio"] = (
        results["kafka_path_referrals_per_s"] / results["baseline_raw_kafka_msgs_per_s"]
    )
    if args.burst:
        limited = asyncio.run(burst(args.burst, NOTIFY_PER_MINUTE, within=600))
        results["burst"] = limited | {
            "share_of_limit_used": limited["most_in_any_60_s"] / NOTIFY_PER_MINUTE
        }
    return results


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{'baseline raw aiokafka':<34} {r['baseline_raw_kafka_msgs_per_s']:>8.0f} msgs/s "
        f"(Kafka path / raw: {r['kafka_path_to_raw_ratio']:.3f}); aiokafka's C extension "
        f"{'loaded' if r['aiokafka_c_extension'] else 'NOT loaded'}"
    )
    print(
        f"Notify's limit lifted for throughput and latency: NOTIFIER_NOTIFY_PER_MINUTE="
        f"{UNLIMITED}, and the stand-in unlimited; NOTIFIER_WEBHOOK_PER_CLINIC="
        f"{STANDIN_HOST_DELIVERIES} (the one stand-in host takes every clinic's deliveries)"
    )
    kafka_rate = r["kafka_path_referrals_per_s"]
    print(f"{'Kafka self-referral path':<34} {kafka_rate:>8.0f} referrals/s fully notified")
    print(
        f"{'HTTP API path':<34} {r['http_path_referrals_per_s']:>8.0f} referrals/s fully notified"
    )
    for path in ("kafka_path", "http_path"):
        shares = r[f"{path}_cpu_ms_per_referral"]
        system = sum(v for k, v in shares.items() if k not in ("stand-ins", "load generator"))
        print(
            f"{'  CPU ms/referral, ' + path.split('_')[0]:<34} {sum(shares.values()):.2f} "
            f"(system {system:.2f}): "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))
        )
    print(
        f"{'latency at ' + str(args.rate) + '/s offered':<34} p50 {r['p50_ms']:.0f} / p95 "
        f"{r['p95_ms']:.0f} / p99 {r['p99_ms']:.0f} ms ({r['latency_samples']} referrals)"
    )
    for stage, figures in r["stage_ms"].items():
        print(f"{'  ' + stage:<34} p50 {figures['p50']:.0f} / p99 {figures['p99']:.0f} ms")
    print(
        f"{'peak memory (MB)':<34} "
        + ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mb"].items())
    )
    if len(r["scale"]) > 1:
        for processes, rates in r["scale"].items():
            print(
                f"{processes + ' process(es) of each':<34} Kafka path "
                f"{rates['kafka_path_referrals_per_s']:.0f}/s, HTTP path "
                f"{rates['http_path_referrals_per_s']:.0f}/s"
            )
    if "burst" in r:
        b = r["burst"]
        print(
            f"{'burst against Notify 3000/min':<34} {b['referrals']} referrals: "
            f"{b['share_of_limit_used']:.0%} of the limit used (most in any 60 s "
            f"{b['most_in_any_60_s']}), told once {b['told_once']}, failed "
            f"{b['notifications_failed']}, 429s {b['answered_429']}"
        )


if __name__ == "__main__":
    main()
