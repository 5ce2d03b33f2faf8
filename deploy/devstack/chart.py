"""What the Helm chart (deploy/helm/womens-health) takes from the code, so that nothing is
typed twice: every topic with its partitions and retention (`shared/topics.py`), and each
service's HTTP port, consumer groups and the topics it reads and writes (its FastStream
broker, as its AsyncAPI document shows). Written to the chart's `files/declared.json` by
`python -m devstack chart`, and checked for staleness (`--check`) in the test command."""

from __future__ import annotations

import json
from typing import Any

from devstack.asyncapi import builders
from devstack.config import PROJECT_ROOT
from shared import topics

CHART = PROJECT_ROOT / "deploy" / "helm" / "womens-health"
DECLARED = CHART / "files" / "declared.json"
DEAD_LETTER_TOPICS = {
    topics.SELF_REFERRAL_DLQ.name,
    topics.REFERRAL_RECEIVED_DLQ.name,
    topics.STATUS_DLQ.name,
    topics.NOTIFICATION_DLQ.name,
}


def declared() -> dict[str, Any]:
    services: dict[str, Any] = {}
    for name, build in builders().items():
        service = build()
        broker = service.broker
        services[name] = {
            "port": service.settings.http_port,
            "groups": sorted({s.group_id for s in broker.subscribers if s.group_id}),
            "consumes": sorted({t.name for s in broker.subscribers for t in s.topics}),
            "produces": sorted({p.topic for p in broker.publishers}),
        }
    every = [
        {
            "name": t.name,
            "partitions": t.partitions,
            "retention_ms": int(t.retention.total_seconds() * 1000),
            "dead_letters": t.name in DEAD_LETTER_TOPICS,
        }
        for t in topics.ALL_TOPICS
    ]
    return {"topics": every, "services": services}


def render() -> str:
    return json.dumps(declared(), indent=2, sort_keys=True) + "\n"


def write_or_check(check: bool) -> bool:
    """Write the file, or (check) say whether the committed copy is stale."""
    text = render()
    if check:
        return not DECLARED.exists() or DECLARED.read_text() != text
    DECLARED.parent.mkdir(parents=True, exist_ok=True)
    DECLARED.write_text(text)
    return False
