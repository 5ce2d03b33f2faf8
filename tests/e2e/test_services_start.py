"""Each service starts as its own process against the real servers, and says so."""

from __future__ import annotations

import json
import signal
import uuid

import httpx
import pytest

from devstack.services import service_process
from tests.support.servers import Servers


@pytest.mark.parametrize("service", ["intake", "router", "notifier"])
def test_service_process_connects_and_idles(servers: Servers, service: str) -> None:
    schema = f"e2e_{service}_{uuid.uuid4().hex[:8]}"
    env = {
        f"{service.upper()}_DB_SCHEMA": schema,
        f"{service.upper()}_CONSUMER_GROUP": f"{service}-{uuid.uuid4().hex[:8]}",
        # Read only when a decision arrives; this test sends none.
        "NOTIFIER_INTAKE_API_KEY": "not-used-before-a-decision",
    }
    with service_process(service, env) as running:
        ready = httpx.get(f"{running.url}/health/ready", timeout=5)
        assert ready.json() == {"kafka": "ok", "postgres": "ok"}
    output = running.output()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal.
    assert running.process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output

    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    connected = [e for e in events if e["event"] == "connected and idle"]
    assert len(connected) == 1, output
    assert connected[0]["component"] == service
    assert connected[0]["kafka"] == servers.kafka_bootstrap
    assert connected[0]["schema"] == schema
    assert any(e["event"] == "migrations applied" and e["schema"] == schema for e in events)
