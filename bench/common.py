"""What every benchmark needs: the servers, a process's peak memory, and where results go."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.services import ROOT

RESULTS = ROOT / "bench" / "results"


def ensure_stack() -> bool:
    """The servers named by the environment, else the local stack (started if needed); True
    when this call started it (`stop_stack` then stops it). The benchmarks send to the
    provider stand-ins, whose placeholder secrets need LOCAL_MODE."""
    os.environ.setdefault("LOCAL_MODE", "true")
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:
        return False
    running = (
        subprocess.run(
            [sys.executable, "-m", "devstack", "status"], cwd=ROOT, capture_output=True
        ).returncode
        == 0
    )
    subprocess.run([sys.executable, "-m", "devstack", "up"], check=True, cwd=ROOT)
    exports = subprocess.run(
        [sys.executable, "-m", "devstack", "env"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    for line in exports.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        os.environ.setdefault(name, value)
    return not running


def stop_stack() -> None:
    subprocess.run([sys.executable, "-m", "devstack", "down"], check=True, cwd=ROOT)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def save_results(name: str, results: dict[str, Any]) -> None:
    """Add the machine and write bench/results/<name>.json."""
    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
