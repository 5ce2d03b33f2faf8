"""Each service starts as its own process against the real servers, and says so."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.servers import Servers

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[str], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"service exited early with {process.returncode}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} not ready within {timeout}s")


@pytest.mark.parametrize("service", ["intake", "router", "notifier"])
def test_service_process_connects_and_idles(servers: Servers, service: str) -> None:
    port = free_port()
    schema = f"e2e_{service}_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": servers.kafka_bootstrap,
        "DATABASE_URL": servers.database_url,
        f"{service.upper()}_HTTP_PORT": str(port),
        f"{service.upper()}_DB_SCHEMA": schema,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", service],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}/health/ready", process)
        assert ready.json() == {"kafka": "ok", "postgres": "ok"}
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output

    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    connected = [e for e in events if e["event"] == "connected and idle"]
    assert len(connected) == 1, output
    assert connected[0]["component"] == service
    assert connected[0]["kafka"] == servers.kafka_bootstrap
    assert connected[0]["schema"] == schema
    assert any(e["event"] == "migrations applied" and e["schema"] == schema for e in events)
