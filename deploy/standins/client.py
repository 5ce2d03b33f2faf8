"""The provider stand-ins as a process of their own, and helpers to read and steer them."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devstack.services import ROOT, free_port, wait_ready


@dataclass
class Standins:
    url: str
    smtp_port: int
    pid: int

    def notifier_env(self) -> dict[str, str]:
        """The notifier's settings that point it at these stand-ins."""
        return {
            "NOTIFIER_NOTIFY_BASE_URL": self.url,
            "NOTIFIER_SMTP_PORT": str(self.smtp_port),
            "NOTIFIER_CLINIC_WEBHOOK_URL": self.url + "/clinics/{site}",
        }

    def records(self, kind: str) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/_stub/{kind}", timeout=5).json())

    def fault(self, target: str, times: int = 1, **fault: Any) -> None:
        httpx.post(
            f"{self.url}/_stub/faults/{target}", params={"times": times}, json=fault, timeout=5
        ).raise_for_status()

    def send_receipts_to(self, url: str, bearer_token: str) -> None:
        """Notify's delivery receipts go to this callback from now on."""
        httpx.post(
            f"{self.url}/_stub/notify-callback",
            json={"url": url, "bearer_token": bearer_token},
            timeout=5,
        ).raise_for_status()

    def delivered(self, reference: str | None = None) -> list[dict[str, Any]]:
        """The delivery receipts that said `delivered` (for one reference, if given)."""
        return [
            r
            for r in self.records("notify_receipts")
            if r["status"] == "delivered" and reference in (None, r["reference"])
        ]

    def reset(self) -> None:
        httpx.post(f"{self.url}/_stub/reset", timeout=5).raise_for_status()


@contextmanager
def standins_process(*options: str) -> Iterator[Standins]:
    """`options` are the stand-ins' own, e.g. `--notify-per-minute 3000`."""
    http_port, smtp_port = free_port(), free_port()
    log_path = Path(tempfile.mkdtemp()) / "standins.log"
    command = [
        sys.executable,
        "-m",
        "standins",
        "--http-port",
        str(http_port),
        "--smtp-port",
        str(smtp_port),
        *options,
    ]
    with log_path.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_ready(url, process, log_path, within=30, probe="/health")
        yield Standins(url, smtp_port, process.pid)
    finally:
        process.terminate()  # graceful, unless a test left a slow request hanging
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
