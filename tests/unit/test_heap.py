"""A served process freezes what start-up built and collects its youngest generation less
often (`shared.heap`); each check runs in a fresh interpreter, so that this test process's
own collector is left as it is."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from shared.heap import YOUNG_GENERATION_THRESHOLD

# run_service with uvicorn replaced by a report of the collector as uvicorn would find it.
_SERVE_AND_REPORT = """
import gc, json, sys
import uvicorn
from types import SimpleNamespace
from shared import runner

def report(app, **_):
    print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}))

uvicorn.run = report
settings = SimpleNamespace(
    log_level="WARNING", log_format="json", http_host="127.0.0.1", trusted_proxies=None
)
runner.run_service(SimpleNamespace(name="test", settings=settings, app=object()), 0)
"""


def _collector_when_served() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _SERVE_AND_REPORT], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_a_served_process_freezes_what_start_up_built() -> None:
    collector = _collector_when_served()
    assert collector["frozen"] > 10_000  # FastAPI, pydantic and our modules, at least


def test_a_served_process_collects_its_young_generation_less_often() -> None:
    threshold = _collector_when_served()["threshold"]
    assert isinstance(threshold, list)
    assert threshold[0] == YOUNG_GENERATION_THRESHOLD
    assert threshold[1:] == list(gc.get_threshold()[1:])  # the others kept
