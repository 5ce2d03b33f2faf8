"""What the Helm chart (deploy/helm/womens-health) takes from the code, so that nothing is
typed twice: every topic with its partitions and retention (`shared/topics.py`), and each
service's HTTP port, consumer groups and the topics it reads and writes (its FastStream
broker, as its AsyncAPI document shows), and each Kafka user's ACLs derived from them.
Written to the chart's `files/declared.json` by `python -m devstack chart`, and checked
for staleness (`--check`) in the test command."""

from __future__ import annotations

import json
from typing import Any

from devstack.asyncapi import builders
from devstack.config import PROJECT_ROOT
from devstack.kafka_access import grants
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
    found: dict[str, Any] = {"topics": every, "services": services}
    found["kafka_users"] = kafka_users(found)
    return found


def kafka_users(declared: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each Kafka user's ACLs as the chart's KafkaUsers list them: the grants of
    `devstack.kafka_access` (the one derivation; the secured local broker applies the same)."""
    users: dict[str, list[dict[str, Any]]] = {}
    for user, granted in grants(declared).items():
        by_resource: dict[tuple[str, str], set[str]] = {}
        for grant in granted:
            by_resource.setdefault((grant.resource, grant.name), set()).add(grant.operation)
        users[user] = [
            {"type": kind, "name": name, "operations": sorted(operations)}
            for (kind, name), operations in sorted(by_resource.items())
        ]
    return users


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
