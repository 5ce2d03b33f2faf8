"""Benchmark one notifier process with the local provider stand-ins (not part of the tests).

    uv run python -m bench.notifier [--decisions 1000]

N routed decisions (each: one SMS to the patient through the Notify-compatible stand-in and one
signed webhook to the clinic) are published; the figure is notifications sent per second until
every row is 'sent'. Baseline in the same run: the official Notify client sending SMS to the
same stand-in from one thread, with nothing else (the provider path's ceiling).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

import asyncpg
import httpx
from notifications_python_client.notifications import NotificationsAPIClient

from bench.common import ensure_stack, peak_rss_mb, save_results
from devstack.samples import gp_referral
from devstack.services import run_cli, service_process
from devstack.topics import ensure_topics
from notifier.settings import LOCAL_NOTIFY_KEY
from shared.contracts import ReferralRouted
from shared.kafka import publish_events
from standins.client import standins_process


def baseline(url: str, n: int) -> float:
    client = NotificationsAPIClient(LOCAL_NOTIFY_KEY, base_url=url)
    began = time.perf_counter()
    for i in range(n):
        client.send_sms_notification(
            phone_number="07700900123",
            template_id=str(uuid.uuid4()),
            personalisation={"body": "baseline"},
            reference=f"baseline-{i}",
        )
    return n / (time.perf_counter() - began)


async def referrals(intake_url: str, key: str, n: int) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=intake_url, timeout=30) as client:
        made: list[dict[str, Any]] = []
        for start in range(0, n, 50):
            answers = await asyncio.gather(
                *(
                    client.post("/v1/referrals", json=gp_referral(), headers=headers)
                    for _ in range(min(50, n - start))
                )
            )
            made += [a.json() for a in answers]
        return made


async def run(prefix: str, schema: str, made: list[dict[str, Any]]) -> float:
    bootstrap, dsn = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"]
    decisions = [
        ReferralRouted(
            correlation_id=str(uuid.uuid4()),
            referral_id=r["referral_id"],
            tracking_reference=r["tracking_reference"],
            received_event_id=uuid.uuid4(),
            service="pelvic-health",
            destination={"id": "pelvic-bsol", "name": "Birmingham and Solihull clinic"},
            reasons=[{"rule": "pelvic-health.area-has-clinic", "message": "Served."}],
            rules_version="bench",
        )
        for r in made
    ]
    expected = 2 * len(decisions)
    conn = await asyncpg.connect(dsn)
    try:
        began = time.perf_counter()
        await publish_events(bootstrap, decisions, topic_prefix=prefix, client_id="bench")
        while True:
            exists = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.notifications")
            sent = (
                await conn.fetchval(
                    f"SELECT count(*) FROM {schema}.notifications"
                    " WHERE status IN ('sent', 'delivered')"
                )
                if exists
                else 0
            )
            if sent >= expected:
                return expected / (time.perf_counter() - began)
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1000)
    args = parser.parse_args()
    ensure_stack()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    asyncio.run(ensure_topics(bootstrap, prefix=prefix))
    schema = f"bench_notifier_{uuid.uuid4().hex[:6]}"
    intake_env = {
        "KAFKA_TOPIC_PREFIX": prefix,
        "INTAKE_DB_SCHEMA": f"bench_in_{uuid.uuid4().hex[:6]}",
        "LOG_LEVEL": "WARNING",
    }
    results: dict[str, Any] = {"decisions": args.decisions}
    with standins_process() as standins, service_process("intake", intake_env) as intake:
        results["baseline_notify_client_sms_per_s"] = baseline(standins.url, 300)
        key = run_cli("intake", "keys", "create", "--organisation", "M85001", env=intake_env)
        notifier_key = run_cli(
            "intake",
            "keys",
            "create",
            "--organisation",
            "NOTIFIER",
            "--scope",
            "notifier",
            env=intake_env,
        )
        made = asyncio.run(referrals(intake.url, key, args.decisions))
        env = {
            "KAFKA_TOPIC_PREFIX": prefix,
            "NOTIFIER_DB_SCHEMA": schema,
            "LOG_LEVEL": "WARNING",
            "NOTIFIER_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:6]}",
            "NOTIFIER_INTAKE_URL": intake.url,
            "NOTIFIER_INTAKE_API_KEY": notifier_key,
            **standins.notifier_env(),
        }
        with service_process("notifier", env) as notifier:
            results["notifications_per_s"] = asyncio.run(run(prefix, schema, made))
            results["notifier_peak_rss_mb"] = peak_rss_mb(notifier.process.pid)
    results["ratio_to_baseline"] = (
        results["notifications_per_s"] / results["baseline_notify_client_sms_per_s"]
    )
    save_results("notifier", results)
    print(f"{'notifier, one process':<34} {results['notifications_per_s']:>10.0f} notifications/s")
    print(
        f"{'baseline: Notify client, 1 thread':<34} "
        f"{results['baseline_notify_client_sms_per_s']:>10.0f} SMS/s  "
        f"(ratio {results['ratio_to_baseline']:.2f})"
    )
    print(
        f"{'notifier peak memory':<34} {results['notifier_peak_rss_mb']:>10.0f} MB  "
        f"{results['machine']}"
    )


if __name__ == "__main__":
    main()
