"""CPU time each part of the system spends during a phase: on a shared 2-core machine this,
more than any one stage's speed, says what holds the pipeline back."""

from __future__ import annotations

from collections.abc import Mapping

import psutil


def _processes(services: Mapping[str, int | list[int]]) -> dict[str, list[psutil.Process]]:
    found = {
        name: [psutil.Process(pid) for pid in (pids if isinstance(pids, list) else [pids])]
        for name, pids in services.items()
    }
    found["kafka"], found["postgresql"] = [], []
    for process in psutil.process_iter(["name", "cmdline"]):
        if "kafka.Kafka" in (process.info["cmdline"] or []):
            found["kafka"].append(process)
        elif process.info["name"] == "postgres":
            found["postgresql"].append(process)
    return found


def cpu_seconds(services: Mapping[str, int | list[int]]) -> dict[str, float]:
    """User + system CPU seconds so far, per part: the named processes (one or several per
    part), the Kafka broker and
    all PostgreSQL processes (a backend that exits takes its share with it)."""
    totals: dict[str, float] = {}
    for name, processes in _processes(services).items():
        seconds = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            seconds += times.user + times.system
        totals[name] = seconds
    return totals


def cpu_ms_per_item(
    before: dict[str, float], after: dict[str, float], items: int
) -> dict[str, float]:
    return {name: (after[name] - before.get(name, 0.0)) * 1000 / items for name in after}
