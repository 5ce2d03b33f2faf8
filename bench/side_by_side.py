"""This commit's pipeline benchmark beside a reference commit's, alternating, on one machine
(the raw Kafka baseline moves too much between runs to scale by, so figures are compared only
side by side). The reference is a checkout with its own environment (`git worktree add`, then
`uv sync` in it); its benchmark runs with Notify's limit lifted by the environment
(NOTIFIER_NOTIFY_PER_MINUTE), as this one lifts it itself.

    git worktree add /tmp/ref 93cd18e && (cd /tmp/ref && uv sync --frozen)
    uv run python -m bench.side_by_side /tmp/ref --runs 3

Writes bench/results/side_by_side.json and prints each run and the medians. CPU per referral
is given whole (`*_cpu_ms`, every part the benchmark accounts) and for the system alone
(`*_system_ms`: the services, Kafka and PostgreSQL, without the stand-ins and the load
generator, which production does not run); the JSON keeps each part of each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ensure_stack, save_results, stop_stack
from devstack.services import ROOT

COMMON = ["--referrals", "4000", "--rate", "100", "--seconds", "20"]


def commit_of(tree: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=tree, check=True, capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip


def one_run(tree: Path, extra: list[str]) -> dict[str, Any]:
    env = {**os.environ, "NOTIFIER_NOTIFY_PER_MINUTE": "1000000"}
    python = tree / ".venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "bench.pipeline", *COMMON, *extra], cwd=tree, env=env, check=True
    )
    return dict(json.loads((tree / "bench" / "results" / "pipeline.json").read_text()))


# The measuring apparatus, not the system: Notify's and the clinics' stand-ins and the load.
APPARATUS = ("stand-ins", "load generator")


def system_cpu(parts: dict[str, float]) -> float:
    """CPU per referral of the services, Kafka and PostgreSQL alone."""
    return sum(ms for part, ms in parts.items() if part not in APPARATUS)


def figures(result: dict[str, Any]) -> dict[str, float]:
    kafka, http = result["kafka_path_cpu_ms_per_referral"], result["http_path_cpu_ms_per_referral"]
    return {
        "kafka_per_s": result["kafka_path_referrals_per_s"],
        "http_per_s": result["http_path_referrals_per_s"],
        "kafka_cpu_ms": sum(kafka.values()),
        "http_cpu_ms": sum(http.values()),
        "kafka_system_ms": system_cpu(kafka),
        "http_system_ms": system_cpu(http),
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "raw_msgs_per_s": result["baseline_raw_kafka_msgs_per_s"],
        "max_rss_mb": max(result["peak_rss_mb"].values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("reference", type=Path, help="the reference commit's checkout")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    started = ensure_stack()
    trees = {"reference": args.reference.resolve(), "this": ROOT}
    commits = {name: commit_of(tree) for name, tree in trees.items()}
    runs: dict[str, list[dict[str, float]]] = {"reference": [], "this": []}
    parts: dict[str, list[dict[str, Any]]] = {"reference": [], "this": []}
    try:
        for _ in range(args.runs):
            for name, tree in trees.items():  # alternating: the machine's drift hits both
                extra = ["--burst", "0"] if name == "this" else []
                result = one_run(tree, extra)
                runs[name].append(figures(result))
                parts[name].append(
                    {p: result[f"{p}_cpu_ms_per_referral"] for p in ("kafka_path", "http_path")}
                )
    finally:
        if started:  # what this command started, it stops
            stop_stack()
    medians = {
        name: {k: statistics.median(r[k] for r in found) for k in found[0]}
        for name, found in runs.items()
    }
    save_results(
        "side_by_side",
        {"commits": commits, "runs": runs, "medians": medians, "cpu_by_part": parts},
    )
    keys = list(medians["this"])
    print(f"{'run':<22}" + "".join(f"{k:>15}" for k in keys))
    for name in trees:
        for i, r in enumerate(runs[name]):
            label = f"{commits[name]} #{i + 1}"
            print(f"{label:<22}" + "".join(f"{r[k]:>15.2f}" for k in keys))
    for name in trees:
        label = f"{commits[name]} median"
        print(f"{label:<22}" + "".join(f"{medians[name][k]:>15.2f}" for k in keys))
    print(f"results in {RESULTS / 'side_by_side.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
