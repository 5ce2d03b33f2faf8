"""Who may do what on Kafka, from what the code declares (`devstack.chart.declared`): each
service reads the topics it subscribes to in its own consumer groups and writes the topics it
publishes; `operations` reads the dead letters and writes them back where they came from;
`keda` only describes, to read lag. The chart's KafkaUser ACLs say the same in Helm's
template language (a test compares them); the secured local broker applies these."""

from __future__ import annotations

from typing import Any, NamedTuple

OPERATIONS, KEDA = "operations", "keda"


class Grant(NamedTuple):
    resource: str  # "topic" | "group"
    name: str  # a literal name, or "*" for every one
    operation: str  # Kafka's: Read, Write, Describe


def grants(declared: dict[str, Any]) -> dict[str, set[Grant]]:
    """Each Kafka user's grants (a service's user is named after the service)."""
    users: dict[str, set[Grant]] = {}
    for name, service in declared["services"].items():
        granted = users.setdefault(name, set())
        for topic in service["consumes"]:
            granted |= {Grant("topic", topic, "Read"), Grant("topic", topic, "Describe")}
        for group in service["groups"]:
            granted.add(Grant("group", group, "Read"))
        for topic in service["produces"]:
            granted |= {Grant("topic", topic, "Write"), Grant("topic", topic, "Describe")}
    replayed = {t for s in declared["services"].values() for t in s["consumes"]}
    letters = {t["name"] for t in declared["topics"] if t["dead_letters"]}
    users[OPERATIONS] = {Grant("topic", t, op) for t in letters for op in ("Read", "Describe")} | {
        Grant("topic", t, op) for t in replayed for op in ("Write", "Describe")
    }
    users[KEDA] = {Grant("topic", "*", "Describe"), Grant("group", "*", "Describe")}
    return users
