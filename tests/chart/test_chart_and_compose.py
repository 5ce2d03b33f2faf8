"""docker-compose.yml and the chart start the same services with the same settings: the same
three services, each reading the same variables with the same fixed values, the notifier's
key registered by the same command. The chart adds only what a shared, secured cluster
needs (Kafka over TLS as each service's own user), listed here; nothing else may differ."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.test_chart import SETTINGS, container, deployment, rendered
from tests.unit.test_compose import COMPOSE

CHART_ONLY = {  # a secured broker, each service as its own Kafka user
    "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CAFILE",
    "INTAKE_REPLAY_KAFKA_USERNAME", "INTAKE_REPLAY_KAFKA_PASSWORD",
    "HTTP_TRUSTED_PROXIES",  # where the cluster's ingress is named (compose: no proxy)
}  # fmt: skip
FIXED = ("LOG_FORMAT", "HTTP_HOST")  # the same literal value in both


def compose_env(service: str) -> dict[str, Any]:
    env = dict(COMPOSE["services"][service]["environment"])
    return {name: value for name, value in env.items() if name != "<<"}


def chart_env(service: str) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(rendered("production"), service)["env"]}


def test_the_same_services_run() -> None:
    ran = {
        name for name, spec in COMPOSE["services"].items()
        if spec.get("build", {}).get("target") == "service" and "command" not in spec
    }  # fmt: skip
    assert ran == set(SETTINGS)
    for name in ran:
        assert COMPOSE["services"][name]["build"]["args"]["SERVICE"] == name
        assert container(rendered("production"), name)["command"] == ["python", "-m", name]


@pytest.mark.parametrize("service", SETTINGS)
def test_each_reads_the_same_variables(service: str) -> None:
    composed, charted = set(compose_env(service)), set(chart_env(service))
    assert composed - charted == set(), "in compose, not in the chart"
    assert charted - composed <= CHART_ONLY, "in the chart, not in compose"


@pytest.mark.parametrize("service", SETTINGS)
def test_fixed_values_and_ports_are_the_same(service: str) -> None:
    composed, charted = compose_env(service), chart_env(service)
    for name in (*FIXED, f"{service.upper()}_HTTP_PORT"):
        assert str(composed[name]) == charted[name]["value"], name
    (published,) = COMPOSE["services"][service]["ports"]
    assert (
        int(published.split(":")[1])
        == container(rendered("production"), service)["ports"][0]["containerPort"]
    )


def test_the_notifier_key_is_registered_by_the_same_command() -> None:
    pod = deployment(rendered("production"), "intake")["spec"]["template"]["spec"]
    (registration,) = [c for c in pod["initContainers"] if c["name"] == "register-notifier-key"]
    assert registration["command"] == COMPOSE["services"]["notifier-key"]["command"]
