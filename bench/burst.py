"""A burst against Notify's rate limit: thousands of self-referrals at once, two notifier
processes sharing one Notify API key, and a Notify stand-in that refuses with 429 above its
limit in any rolling 60 s, as GOV.UK Notify does.

    uv run python -m bench.burst [--referrals 4000] [--per-minute 3000]

Runs the same burst twice, each on a system of its own: first with a stand-in that has no
limit (the baseline: how fast the pipeline itself tells everyone), then with the limit. Counts
at the stand-in, not in our tables: every woman told exactly once, nothing on
`notifications.failed`, the most messages Notify saw in any 60 s, how many 429s it answered,
and how long the last woman waited against what the limit allows. Writes
bench/results/burst.json; exits 1 if anyone was told twice or not at all, or anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import time
import uuid
from bisect import bisect_right
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import httpx

from bench.common import ensure_stack, save_results
from devstack.samples import self_referral
from devstack.services import service_process
from devstack.system import running_system
from devstack.topics import ensure_topics
from intake.domain.tracking import new_tracking_reference
from shared.contracts import SelfReferralSubmitted
from shared.kafka import publish_events
from shared.sealed import seal
from shared.topic_reading import read_to_end
from standins.client import Standins, standins_process

# Routed (pelvic health, Birmingham), told by SMS: one Notify message per woman.
REFERENCE = re.compile(r"[A-Za-z0-9-]{6,20}")  # shared.contracts.TrackingReference, in a text
SELF = self_referral(**{"patient.postcode": "B1 1AA", "patient.contact_preferences": ["sms"]})


def sealed_events(public_key: str, n: int) -> list[SelfReferralSubmitted]:
    body = json.dumps(SELF).encode()
    return [
        SelfReferralSubmitted(
            correlation_id=str(uuid.uuid4()),
            source="bench-burst",
            referral_id=uuid.uuid4(),
            tracking_reference=new_tracking_reference(),
            sealed_submission=seal(public_key, body),
        )
        for _ in range(n)
    ]


def told(standins: Standins, references: set[str]) -> Counter[str]:
    """Messages at Notify per tracking reference (each SMS quotes hers)."""
    found: Counter[str] = Counter()
    for record in standins.records("notify"):
        text = str(record.get("personalisation", {}).get("body", ""))
        found.update(set(REFERENCE.findall(text)) & references)
    return found


def most_in_any_minute(times: list[float]) -> int:
    times = sorted(times)
    return max((bisect_right(times, t + 60 - 1e-9) - i for i, t in enumerate(times)), default=0)


async def burst(n: int, per_minute: int | None, within: float) -> dict[str, Any]:
    prefix = f"burst{uuid.uuid4().hex[:6]}."
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    await ensure_topics(bootstrap, prefix=prefix)
    options = ("--notify-per-minute", str(per_minute)) if per_minute else ()
    with ExitStack() as stack:
        standins = stack.enter_context(standins_process(*options))
        system = stack.enter_context(
            running_system(prefix, standins, NOTIFIER_NOTIFY_PER_MINUTE=str(per_minute or 10**6))
        )
        stack.enter_context(service_process("notifier", system.env))  # a second notifier
        async with httpx.AsyncClient(base_url=system.intake.url) as client:
            public_key = (await client.get("/v1/self-referral-key")).json()["public_key"]
        events = sealed_events(public_key, n)
        references = {e.tracking_reference for e in events}
        await asyncio.sleep(3)  # both notifiers in their group before the burst arrives
        began = time.monotonic()
        await publish_events(bootstrap, events, topic_prefix=prefix, client_id="bench-burst")
        published = time.monotonic() - began
        while True:
            counts = await asyncio.to_thread(told, standins, references)
            if len(counts) == n or time.monotonic() - began > within:
                break
            await asyncio.sleep(1)
        took = time.monotonic() - began
        await asyncio.sleep(3)  # anything sent twice would arrive now
        counts = await asyncio.to_thread(told, standins, references)
        failed = await read_to_end(bootstrap, prefix + "notifications.failed")
        sent = await asyncio.to_thread(standins.records, "notify")
        accepted = [datetime.fromisoformat(r["received_at"]).timestamp() for r in sent]
        refusals = await asyncio.to_thread(standins.records, "notify_refused")
        refused = Counter(r["status"] for r in refusals)
    return {
        "referrals": n,
        "per_minute": per_minute,
        "published_in_s": round(published, 1),
        "all_told_in_s": round(took, 1),
        "told_once": sum(1 for r in references if counts[r] == 1),
        "not_told": sum(1 for r in references if counts[r] == 0),
        "told_twice_or_more": sum(1 for r in references if counts[r] > 1),
        "notifications_failed": len(failed),
        "answered_429": refused.get(429, 0),
        "most_in_any_60_s": most_in_any_minute(accepted),
    }


def allowed_seconds(n: int, per_minute: int) -> tuple[float, float]:
    """The soonest the last of n messages can go under the limit: all at once up to the limit,
    then a minute later (a burster's best); and at an even pace of the limit."""
    return 60.0 * math.floor((n - 1) / per_minute), 60.0 * n / per_minute


def report(results: dict[str, Any]) -> None:
    base, limited = results["baseline"], results["limited"]
    soonest, even = results["allowed_s"]
    rows = [
        ("referrals (self-referral events, one SMS each)", base["referrals"], limited["referrals"]),
        ("Notify stand-in limit per rolling 60 s", "none", limited["per_minute"]),
        ("all told in (from the first event)", f"{base['all_told_in_s']} s",
         f"{limited['all_told_in_s']} s"),
        ("told exactly once", base["told_once"], limited["told_once"]),
        ("not told / told twice", f"{base['not_told']} / {base['told_twice_or_more']}",
         f"{limited['not_told']} / {limited['told_twice_or_more']}"),
        ("on notifications.failed", base["notifications_failed"], limited["notifications_failed"]),
        ("429s answered by the stand-in", base["answered_429"], limited["answered_429"]),
        ("most messages in any 60 s", base["most_in_any_60_s"], limited["most_in_any_60_s"]),
    ]  # fmt: skip
    for name, a, b in rows:
        print(f"{name:<50} {a!s:>12} {b!s:>12}")
    print(
        f"the limit allows the last message after {soonest:.0f} s (all at once, then a minute"
        f" later) or {even:.0f} s (at an even pace); taken {limited['all_told_in_s']} s,"
        f" {limited['all_told_in_s'] / even:.2f} x the even pace"
    )


async def run(args: argparse.Namespace) -> int:
    ensure_stack()
    results: dict[str, Any] = {
        "baseline": await burst(args.referrals, None, args.within),
        "limited": await burst(args.referrals, args.per_minute, args.within),
        "allowed_s": allowed_seconds(args.referrals, args.per_minute),
    }
    save_results("burst", results)
    report(results)
    bad = any(
        r["told_once"] != r["referrals"] or r["notifications_failed"]
        for r in (results["baseline"], results["limited"])
    )
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=4000)
    parser.add_argument("--per-minute", type=int, default=3000)
    parser.add_argument("--within", type=float, default=600, help="give up after (s)")
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
