"""Chaos: two processes of each service under steady load through both doors, while service
processes are SIGKILLed and SIGSTOPped, a broker is SIGKILLed (on three brokers: the leader of a
partition in use) and PostgreSQL crashes, with a Notify stand-in that refuses with 429 above
its per-minute limit and fails a share of sends with 500; then it counts where the world sees
the results: decisions on the topics, messages at the Notify stand-in, deliveries at the
clinic stand-in.

    uv run python -m bench.chaos [--brokers 1|3] [--seconds 120] [--rate 6] [--kills 20]
                                 [--broker-kills 5] [--pg-crashes 2] [--stalls 3]
                                 [--stall-seconds 20] [--notify-per-minute 900]
                                 [--notifier-per-minute 1800] [--notify-error-rate 0.02]
                                 [--notify-slow-down-rate 0.02]

Runs on the local stack (devstack; it kills and restarts its brokers and PostgreSQL), not on
servers named by KAFKA_BOOTSTRAP_SERVERS; the other topology's Kafka, which would hold the same
ports, is stopped first. Prints a table of what it did and what it found, writes
bench/results/chaos.json, and exits 1 if anything was lost or doubled or the backlog did not
drain within 60 s of the last fault.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import save_results
from devstack.config import StackSettings
from devstack.kafka import KafkaServer
from devstack.postgres import PostgresServer
from devstack.samples import gp_referral, self_referral
from devstack.services import ROOT, free_port, run_cli
from devstack.topics import ensure_topics, leader_of
from intake.adapters.self_referral_codec import encode
from intake.domain.tracking import new_tracking_reference
from shared.kafka import build_broker, publish_event
from shared.sealed import public_key_of
from shared.submission import ReferralSubmission
from shared.topic_reading import read_to_end
from shared.topics import REFERRAL_RECEIVED, REFERRAL_ROUTED, SELF_REFERRAL_SUBMITTED
from standins.client import Standins, standins_process

SERVICES = ("intake", "router", "notifier")
# Both routed (pelvic health, Birmingham): the patient is sent one SMS, the clinic one webhook.
SELF = self_referral(**{"patient.postcode": "B1 1AA", "patient.contact_preferences": ["sms"]})
GP = gp_referral()
DECISION_TOPICS = ("referrals.routed", "referrals.rejected", "referrals.triage")
# Every referral passes through these: a leader of one of their partitions is a broker in use.
PIPELINE_TOPICS = (SELF_REFERRAL_SUBMITTED, REFERRAL_RECEIVED, REFERRAL_ROUTED)
RNG = random.SystemRandom()  # which process, and when: no seed to pick


@dataclass
class Replica:
    service: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, **self.env, f"{self.service.upper()}_HTTP_PORT": str(self.port)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.service], cwd=ROOT, env=env, stdout=out, stderr=out
            )

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Load:
    accepted: dict[str, str] = field(default_factory=dict)  # tracking reference -> door
    http_retries: int = 0
    http_given_up: int = 0  # still not accepted after GIVE_UP_S of retrying
    http_answers: Counter[str] = field(default_factory=Counter)  # status, or "no answer"


GIVE_UP_S = 300  # a GP system's patience with one referral


async def wait_ready(url: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url + "/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise TimeoutError(f"{url} not ready")


async def submit_gp(intakes: list[Replica], key: str, load: Load) -> None:
    """As a GP system does: one Idempotency-Key, retried on any replica until accepted (or
    until it gives up, counted)."""
    idempotency = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency}
    give_up_at = time.monotonic() + GIVE_UP_S
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < give_up_at:
            replica = RNG.choice(intakes)
            try:
                answer = await client.post(replica.url + "/v1/referrals", json=GP, headers=headers)
                load.http_answers[str(answer.status_code)] += 1
                if answer.status_code == 202:
                    load.accepted[answer.json()["tracking_reference"]] = "http"
                    return
            except httpx.TransportError:
                load.http_answers["no answer"] += 1
            load.http_retries += 1
            await asyncio.sleep(1)
    load.http_given_up += 1


async def submit_self(bootstrap: str, topic: str, public_key: str, load: Load) -> None:
    reference = new_tracking_reference()
    event = encode(
        ReferralSubmission.model_validate(SELF),
        public_key,
        source="chaos-form",
        correlation_id=str(uuid.uuid4()),
        referral_id=uuid.uuid4(),
        tracking_reference=reference,
    )
    while True:  # until the broker acknowledges it (acks=all): only then is it accepted
        try:
            async with build_broker(bootstrap, "chaos-form") as broker:
                await publish_event(broker, event, key=str(event.referral_id), topic=topic)
            load.accepted[reference] = "kafka"
            return
        except Exception:  # the broker may be down: try again, as a form would
            await asyncio.sleep(1)


def restart_stack() -> None:
    subprocess.run(
        [sys.executable, "-m", "devstack", "up"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )


async def kill_a_broker(stack: StackSettings, prefix: str) -> str:
    """One broker: the only one, or on a cluster the leader of a partition the pipeline uses
    now (as Kafka's replication tests kill the leader); SIGKILLed, then started again."""
    kafka = KafkaServer(stack)
    if len(kafka.nodes) == 1:
        victim, what = None, "SIGKILL broker"
    else:
        topic = RNG.choice(PIPELINE_TOPICS)
        partition = RNG.randrange(topic.partitions)
        victim = await leader_of(stack.kafka_bootstrap, topic.qualified(prefix), partition)
        what = f"SIGKILL broker {victim} (leader of {topic.name}/{partition})"
    await asyncio.to_thread(kafka.kill, victim)
    await asyncio.sleep(RNG.uniform(1, 3))
    await asyncio.to_thread(restart_stack)
    return what


async def faults(
    replicas: list[Replica], args: argparse.Namespace, done: list[str], end: float, prefix: str
) -> float:
    """Every fault, spread at random over the run; returns when the last one ended."""
    plan = (
        ["kill"] * args.kills
        + ["broker"] * args.broker_kills
        + ["postgres"] * args.pg_crashes
        + ["stall"] * args.stalls
    )
    RNG.shuffle(plan)
    gap = (end - time.monotonic()) / (len(plan) + 1)
    stack = StackSettings()
    for fault in plan:
        await asyncio.sleep(gap * RNG.uniform(0.5, 1.0))
        victim = RNG.choice(replicas)
        if fault == "kill":
            victim.kill()  # the supervisor starts it again, as an orchestrator would
            done.append(f"SIGKILL {victim.service}:{victim.port}")
        elif fault == "stall":
            victim.signal(signal.SIGSTOP)
            await asyncio.sleep(args.stall_seconds)
            victim.signal(signal.SIGCONT)
            done.append(f"SIGSTOP {args.stall_seconds:.0f} s {victim.service}:{victim.port}")
        elif fault == "broker":
            done.append(await kill_a_broker(stack, prefix))
        else:
            await asyncio.to_thread(PostgresServer(stack).stop, "immediate")
            await asyncio.sleep(RNG.uniform(1, 3))
            await asyncio.to_thread(restart_stack)
            done.append("PostgreSQL crash (immediate)")
    return time.monotonic()


async def supervise(replicas: list[Replica], restarts: list[str]) -> None:
    """As an orchestrator would: a process that exited by itself (one started while the
    broker was away gives up at startup) is started again."""
    while True:
        await asyncio.sleep(1)
        for replica in replicas:
            if replica.process is not None and replica.process.poll() is not None:
                restarts.append(f"{replica.service}:{replica.port}")
                replica.start()


async def counted(bootstrap: str, prefix: str, standins: Standins) -> dict[str, Any]:
    """Per tracking reference: distinct decisions on the topics, messages at Notify,
    distinct deliveries at the clinic."""
    records = await read_to_end(bootstrap, *(prefix + t for t in DECISION_TOPICS))
    decisions: dict[str, set[str]] = {}
    for record in records:
        body = json.loads(record.value or b"{}")
        decisions.setdefault(body["tracking_reference"], set()).add(body["event_id"])
    texts = [str(r.get("personalisation", {}).get("body", "")) for r in standins.records("notify")]
    webhooks: dict[str, set[str]] = {}
    for r in standins.records("webhook"):
        webhooks.setdefault(r["body"]["tracking_reference"], set()).add(r["delivery_id"])
    refused = Counter(
        f"{r['status']}{' after accepting' if r.get('accepted') else ''}"
        for r in standins.records("notify_refused")
    )
    return {"decisions": decisions, "texts": texts, "webhooks": webhooks, "refused": refused}


def per_reference(texts: list[str], references: set[str]) -> Counter[str]:
    found: Counter[str] = Counter()
    for text in texts:
        for reference in references:
            if reference in text:
                found[reference] += 1
    return found


async def run(args: argparse.Namespace) -> int:
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:
        print("chaos: runs on the local stack only (it kills the broker); unset the servers")
        return 2
    os.environ["DEVSTACK_KAFKA_BROKERS"] = str(args.brokers)  # for `devstack up` too
    stack = StackSettings()
    for other in {1, 3} - {args.brokers}:  # on the same ports
        if KafkaServer(stack.model_copy(update={"kafka_brokers": other})).stop():
            print(f"chaos: stopped the local {other}-broker Kafka to start {args.brokers}")
    await asyncio.to_thread(restart_stack)
    bootstrap = stack.kafka_bootstrap
    exported = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "devstack", "env"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    secrets = exported.stdout
    for line in secrets.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        os.environ[name] = value
    prefix = f"chaos{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, prefix=prefix)
    tag = uuid.uuid4().hex[:6]
    env = {
        "KAFKA_TOPIC_PREFIX": prefix,
        "NOTIFIER_LEASE_SECONDS": "30",
        "LOG_LEVEL": "WARNING",
        # The notifier's budget above the stand-in's limit, as when another system shares the
        # key: Notify, not our pacing, has the last word, and its 429s must be waited out.
        "NOTIFIER_NOTIFY_PER_MINUTE": str(args.notifier_per_minute),
    }
    for service in SERVICES:
        env[f"{service.upper()}_DB_SCHEMA"] = f"chaos_{service}_{tag}"
        env[f"{service.upper()}_CONSUMER_GROUP"] = f"chaos-{service}-{tag}"
    notify = (
        "--notify-per-minute",
        str(args.notify_per_minute),
        "--notify-error-rate",
        str(args.notify_error_rate),
        "--notify-slow-down-rate",
        str(args.notify_slow_down_rate),
    )
    with standins_process(*notify) as standins:
        env |= standins.notifier_env()
        first = Replica("intake", env)
        first.start()
        await wait_ready(first.url)
        key = run_cli("intake", "keys", "create", "--organisation", "M85001", env=env)
        env["NOTIFIER_INTAKE_URL"] = first.url
        env["NOTIFIER_INTAKE_API_KEY"] = run_cli(
            "intake", "keys", "create", "--organisation", "NOTIFIER", "--scope", "notifier", env=env
        )
        replicas = [first, Replica("intake", env)] + [
            Replica(service, env) for service in ("router", "router", "notifier", "notifier")
        ]
        for replica in replicas[1:]:
            replica.start()
        await asyncio.gather(*(wait_ready(r.url) for r in replicas))
        try:
            return await measure(args, replicas, key, bootstrap, prefix, standins)
        finally:
            for replica in replicas:
                replica.stop()


async def measure(
    args: argparse.Namespace,
    replicas: list[Replica],
    key: str,
    bootstrap: str,
    prefix: str,
    standins: Standins,
) -> int:
    load, done = Load(), []
    started = time.monotonic()
    end = started + args.seconds
    intakes = [r for r in replicas if r.service == "intake"]
    public_key = public_key_of(os.environ["INTAKE_PRIVATE_KEY"])
    topic = prefix + "referrals.self-referral"
    faulting = asyncio.create_task(faults(replicas, args, done, end, prefix))
    restarts: list[str] = []
    supervising = asyncio.create_task(supervise(replicas, restarts))
    sending: set[asyncio.Task[None]] = set()
    n = 0
    while time.monotonic() < end or not faulting.done():  # load lasts as long as the faults
        job = (
            submit_gp(intakes, key, load)
            if n % 2
            else submit_self(bootstrap, topic, public_key, load)
        )
        sending.add(asyncio.create_task(job))
        n += 1
        await asyncio.sleep(1 / args.rate)
    last_fault = await faulting
    await asyncio.gather(*sending)
    offered = n
    # Drain: until every accepted referral has its decision, message and delivery.
    deadline = last_fault + 60
    while True:
        found = await counted(bootstrap, prefix, standins)
        references = set(load.accepted)
        texts = per_reference(found["texts"], references)
        complete = all(
            found["decisions"].get(r) and texts[r] and found["webhooks"].get(r) for r in references
        )
        if complete or time.monotonic() > deadline + 60:
            break
        await asyncio.sleep(2)
    drained_after = time.monotonic() - last_fault
    supervising.cancel()
    lost = {
        "decision": sorted(r for r in references if not found["decisions"].get(r)),
        "patient": sorted(r for r in references if not texts[r]),
        "clinic": sorted(r for r in references if not found["webhooks"].get(r)),
    }
    doubled = {
        "decision": sorted(r for r in references if len(found["decisions"].get(r, ())) > 1),
        "patient": sorted(r for r in references if texts[r] > 1),
        "clinic": sorted(r for r in references if len(found["webhooks"].get(r, ())) > 1),
    }
    faults_done = Counter(f.split(" ")[0] + (" broker" if "broker" in f else "") for f in done)
    results = {
        "brokers": args.brokers,
        "notify": {
            "stand_in_per_minute": args.notify_per_minute,
            "notifier_per_minute": args.notifier_per_minute,
            "error_rate": args.notify_error_rate,
            "slow_down_rate": args.notify_slow_down_rate,
            "refused": dict(found["refused"]),
        },
        "offered": offered,
        "accepted": len(references),
        "by_door": dict(Counter(load.accepted.values())),
        "http_retries": load.http_retries,
        "http_given_up": load.http_given_up,
        "http_answers": dict(load.http_answers),
        "faults": dict(faults_done),
        "fault_log": done,
        "restarted_after_exit": restarts,
        "lost": {k: len(v) for k, v in lost.items()},
        "doubled": {k: len(v) for k, v in doubled.items()},
        "examples": {
            "lost": {k: v[:5] for k, v in lost.items()},
            "doubled": {k: v[:5] for k, v in doubled.items()},
        },
        "drained_within_s_of_last_fault": round(drained_after, 1),
    }
    save_results("chaos", results)
    print(f"{'Kafka brokers':<36} {args.brokers}")
    print(f"{'offered / accepted':<36} {offered} / {len(references)} {results['by_door']}")
    print(f"{'HTTP retries (same Idempotency-Key)':<36} {load.http_retries}")
    print(f"{'HTTP referrals given up after 300 s':<36} {load.http_given_up}")
    answers = ", ".join(f"{k}: {v}" for k, v in sorted(load.http_answers.items()))
    print(f"{'HTTP answers (503 = refused honestly)':<36} {answers}")
    for name, count in sorted(faults_done.items()):
        print(f"{'fault: ' + name:<36} {count}")
    for what in ("decision", "patient", "clinic"):
        print(f"{'lost / doubled: ' + what:<36} {len(lost[what])} / {len(doubled[what])}")
    exited = len(restarts) - faults_done.get("SIGKILL", 0)
    print(f"{'restarts (after SIGKILL, or exiting)':<36} {len(restarts)} ({exited} exited)")
    for status, count in sorted(found["refused"].items()):
        print(f"{'Notify stand-in answered ' + status:<36} {count}")
    print(f"{'drained after the last fault':<36} {drained_after:.1f} s")
    failed = any(lost.values()) or any(doubled.values()) or drained_after > 60 or load.http_given_up
    return 1 if failed else 0


def main() -> None:
    # The load generator's own Kafka clients: every broker kill would print hundreds of
    # connection retries over the table this prints.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", type=int, choices=(1, 3), default=1)
    parser.add_argument(
        "--notify-per-minute", type=int, default=900, help="the stand-in's limit (429 above)"
    )
    parser.add_argument(
        "--notifier-per-minute", type=int, default=1800, help="the notifier's own budget"
    )
    parser.add_argument(
        "--notify-error-rate", type=float, default=0.02, help="share of sends answered 500"
    )
    parser.add_argument(
        "--notify-slow-down-rate", type=float, default=0.02, help="share answered 429 anyway"
    )
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--rate", type=float, default=6, help="referrals offered per second")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--broker-kills", type=int, default=5)
    parser.add_argument("--pg-crashes", type=int, default=2)
    parser.add_argument("--stalls", type=int, default=3)
    parser.add_argument("--stall-seconds", type=float, default=20)
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
