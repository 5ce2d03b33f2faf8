"""The Helm chart, checked without a cluster: the real Helm (`devstack helm` builds it) lints
and renders it for the default values and a production-like file; every manifest validates
against Kubernetes' own schemas (kubernetes-validate) or, for the operators' resources,
against their CRDs' schemas with unknown fields refused; and what it deploys is what the code
declares and reads: topics, partitions, retention, ports, probes, environment variables,
Kafka access, and the most processes that can share the work."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from devstack import chart, helm
from devstack.asyncapi import builders
from devstack.kafka_access import Grant, grants
from intake.settings import IntakeSettings
from notifier.settings import NotifierSettings
from router.settings import RouterSettings
from shared import topics, tracing
from shared.settings import env_name

VALUES = {
    "default": [],
    "production": [chart.CHART / "values-production.yaml"],
}
SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "router": RouterSettings,
    "notifier": NotifierSettings,
}
OPERATOR_GROUPS = ("kafka.strimzi.io/", "postgresql.cnpg.io/", "keda.sh/")
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())  # kubeVersion >=1.29


@cache
def rendered(values: str) -> tuple[dict[str, Any], ...]:
    text = helm.render(VALUES[values])
    return tuple(d for d in yaml.safe_load_all(text) if d)


@pytest.fixture(params=VALUES)
def manifests(request: pytest.FixtureRequest) -> tuple[dict[str, Any], ...]:
    return rendered(request.param)


def of_kind(manifests: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def deployment(manifests: tuple[dict[str, Any], ...], service: str) -> dict[str, Any]:
    (found,) = [
        m for m in of_kind(manifests, "Deployment").values()
        if m["metadata"]["labels"]["app.kubernetes.io/name"] == service
    ]  # fmt: skip
    return found


def container(manifests: tuple[dict[str, Any], ...], service: str) -> dict[str, Any]:
    (found,) = deployment(manifests, service)["spec"]["template"]["spec"]["containers"]
    return dict(found)


@cache
def code() -> dict[str, Any]:
    """What each service's code declares, read from the services themselves."""
    found = {}
    for name, build in builders().items():
        service = build()
        found[name] = {
            "port": service.settings.http_port,
            "paths": set(service.app.openapi()["paths"]),
            "consumes": {t.name for s in service.broker.subscribers for t in s.topics},
            "produces": {p.topic for p in service.broker.publishers},
            "groups": {s.group_id for s in service.broker.subscribers},
        }
    return found


def test_what_the_chart_takes_from_the_code_is_current() -> None:
    assert chart.DECLARED.read_text() == chart.render(), "run `python -m devstack chart`"


@pytest.mark.parametrize("values", VALUES)
def test_the_chart_lints_clean(values: str) -> None:
    linted = helm.lint(VALUES[values])
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "[WARNING]" not in linted.stdout
    assert "[ERROR]" not in linted.stdout


def test_kubernetes_resources_validate_against_kubernetes_schemas(
    manifests: tuple[dict[str, Any], ...],
) -> None:
    checked = 0
    for manifest in manifests:
        if manifest["apiVersion"].startswith(OPERATOR_GROUPS):
            continue
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)  # raises on a fault
        checked += 1
    assert checked >= 3 + 3 + 3 + 4  # deployments, services, budgets, network policies


def closed(schema: Any) -> Any:
    """The CRD's schema with unknown fields refused, as the API server would prune them
    silently: a misspelt field fails here instead of vanishing there."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    return {key: closed(schema) for key, schema in helm.crd_schemas().items()}


def test_operator_resources_validate_against_their_crds(
    manifests: tuple[dict[str, Any], ...],
) -> None:
    kinds = set()
    for manifest in manifests:
        if not manifest["apiVersion"].startswith(OPERATOR_GROUPS):
            continue
        key = (manifest["apiVersion"], manifest["kind"])
        assert key in schemas(), f"no CRD serves {key}: the operators' versions moved?"
        jsonschema.validate(manifest, schemas()[key])
        kinds.add(manifest["kind"])
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "ScaledObject",
            "TriggerAuthentication"} <= kinds  # fmt: skip


def test_a_misspelt_field_fails_the_crd_check() -> None:
    """The check above can fail: a field the CRD does not know is refused."""
    (topic, *_) = of_kind(rendered("default"), "KafkaTopic").values()
    wrong = topic | {"spec": topic["spec"] | {"partitons": 6}}
    with pytest.raises(jsonschema.ValidationError, match="partitons"):
        jsonschema.validate(wrong, schemas()[(topic["apiVersion"], "KafkaTopic")])


def test_kafka_keeps_three_replicas_and_needs_two_in_sync(
    manifests: tuple[dict[str, Any], ...],
) -> None:
    (kafka,) = of_kind(manifests, "Kafka").values()
    (pool,) = of_kind(manifests, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}  # KRaft: no ZooKeeper
    assert kafka["spec"]["kafka"]["config"]["default.replication.factor"] == 3
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True
    assert listener["authentication"]["type"] == "scram-sha-512"
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"


def test_every_topic_the_code_declares_is_a_kafka_topic_as_declared(
    manifests: tuple[dict[str, Any], ...],
) -> None:
    found = {
        t["spec"]["topicName"]: (
            t["spec"]["partitions"], t["spec"]["config"]["retention.ms"], t["spec"]["replicas"]
        )
        for t in of_kind(manifests, "KafkaTopic").values()
    }  # fmt: skip
    assert found == {
        t.name: (t.partitions, int(t.retention.total_seconds() * 1000), 3)
        for t in topics.ALL_TOPICS
    }


@pytest.mark.parametrize("service", SETTINGS)
def test_ports_and_probes_are_the_services_own(
    manifests: tuple[dict[str, Any], ...], service: str
) -> None:
    main = container(manifests, service)
    (port,) = main["ports"]
    assert port["containerPort"] == code()[service]["port"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"]["path"] in code()[service]["paths"], probe
    assert main["readinessProbe"]["httpGet"]["path"] == "/health/ready"  # Kafka and PostgreSQL
    (svc,) = [
        s for s in of_kind(manifests, "Service").values() if s["metadata"]["name"].endswith(service)
    ]
    assert svc["spec"]["ports"][0]["port"] == code()[service]["port"]


def env_names(settings: type[BaseSettings]) -> set[str]:
    return {env_name(settings, name) for name in settings.model_fields}


def secret_names(settings: type[BaseSettings]) -> set[str]:
    return {
        env_name(settings, name)
        for name, field in settings.model_fields.items()
        if field.annotation in (SecretStr, SecretStr | None)
    }


@pytest.mark.parametrize("service", SETTINGS)
def test_every_variable_is_one_the_service_reads_and_secrets_come_from_secrets(
    manifests: tuple[dict[str, Any], ...], service: str
) -> None:
    pod = deployment(manifests, service)["spec"]["template"]["spec"]
    settings = SETTINGS[service]
    for one in [*pod["initContainers"], *pod["containers"]]:
        env = {e["name"]: e for e in one["env"]}
        reads = env_names(settings) | {"NOTIFIER_INTAKE_API_KEY"}  # `keys register --key-env`
        reads.add(tracing.ENDPOINT)  # read by the OpenTelemetry SDK
        assert set(env) <= reads, f"{one['name']}: {set(env) - reads}"
        for name in secret_names(settings) & set(env):
            assert "secretKeyRef" in env[name].get("valueFrom", {}), f"{name} in clear"
    main = {e["name"] for e in container(manifests, service)["env"]}
    required = {env_name(settings, n) for n, f in settings.model_fields.items() if f.is_required()}
    assert required <= main
    # Each secret whose default works only locally is set (LOCAL_MODE is never on here).
    assert secret_names(settings) - {"KAFKA_SASL_PASSWORD"} - {
        "INTAKE_REPLAY_KAFKA_PASSWORD"
    } <= main | {"KAFKA_SASL_PASSWORD"}
    assert "LOCAL_MODE" not in main


@pytest.mark.parametrize("service", SETTINGS)
def test_each_service_may_use_only_the_topics_its_code_uses(
    manifests: tuple[dict[str, Any], ...], service: str
) -> None:
    (user,) = [u for u in of_kind(manifests, "KafkaUser").values()
               if u["metadata"]["name"].endswith(f"-{service}")]  # fmt: skip
    allowed: dict[tuple[str, str], set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        key = (acl["resource"]["type"], acl["resource"]["name"])
        allowed.setdefault(key, set()).update(acl["operations"])
    writes = {name for (kind, name), ops in allowed.items() if kind == "topic" and "Write" in ops}
    reads = {name for (kind, name), ops in allowed.items() if kind == "topic" and "Read" in ops}
    groups = {name for (kind, name), _ops in allowed.items() if kind == "group"}
    assert writes == code()[service]["produces"]
    assert reads == code()[service]["consumes"]
    assert groups == code()[service]["groups"]
    container_env = {e["name"]: e for e in container(manifests, service)["env"]}
    assert container_env["KAFKA_SASL_USERNAME"]["value"] == user["metadata"]["name"]
    assert container_env["KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"


@pytest.mark.parametrize("service", SETTINGS)
def test_scaling_on_lag_stops_at_the_partitions_a_group_can_share(
    manifests: tuple[dict[str, Any], ...], service: str
) -> None:
    (scaled,) = [s for s in of_kind(manifests, "ScaledObject").values()
                 if s["spec"]["scaleTargetRef"]["name"].endswith(f"-{service}")]  # fmt: skip
    ceiling = max(t.partitions for t in topics.ALL_TOPICS if t.name in code()[service]["consumes"])
    assert scaled["spec"]["maxReplicaCount"] <= ceiling
    assert scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    groups = {t["metadata"]["consumerGroup"] for t in scaled["spec"]["triggers"]}
    assert groups == code()[service]["groups"]


def containers(manifests: tuple[dict[str, Any], ...]) -> Iterator[dict[str, Any]]:
    for found in of_kind(manifests, "Deployment").values():
        pod = found["spec"]["template"]["spec"]
        yield from pod.get("initContainers", [])
        yield from pod["containers"]


def test_every_container_is_locked_down_and_bounded(manifests: tuple[dict[str, Any], ...]) -> None:
    for one in containers(manifests):
        context = one["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert set(one["resources"]) == {"requests", "limits"}


def test_every_service_has_a_disruption_budget_and_a_network_policy(
    manifests: tuple[dict[str, Any], ...],
) -> None:
    budgets = of_kind(manifests, "PodDisruptionBudget").values()
    policies = of_kind(manifests, "NetworkPolicy").values()
    for service in SETTINGS:
        labels = deployment(manifests, service)["spec"]["selector"]["matchLabels"]
        assert [b for b in budgets if b["spec"]["selector"]["matchLabels"] == labels]
        (policy,) = [p for p in policies if p["spec"]["podSelector"]["matchLabels"] == labels]
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        from_outside = {"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "ingress-nginx"}}}  # fmt: skip
        # Reached from outside: intake (people, systems) and the notifier (Notify's receipts).
        assert (from_outside in sources) == (service in ("intake", "notifier")), service


def test_no_secret_value_is_in_the_chart(manifests: tuple[dict[str, Any], ...]) -> None:
    for secret in of_kind(manifests, "Secret").values():
        assert set(secret.get("stringData", {})) <= {"sasl", "tls", "username"}
        assert "data" not in secret


def test_the_production_values_back_postgres_up_and_the_defaults_say_when_not() -> None:
    (cluster,) = of_kind(rendered("production"), "Cluster").values()
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    assert of_kind(rendered("production"), "ScheduledBackup")
    (default,) = of_kind(rendered("default"), "Cluster").values()
    assert "backup" not in default["spec"]
    assert "NOT backed up" in (chart.CHART / "templates" / "NOTES.txt").read_text()


def test_the_charts_kafka_users_have_what_the_secured_local_broker_grants(
    manifests: tuple[dict[str, Any], ...],
) -> None:
    """One derivation of who may do what (devstack.kafka_access), tested against the real
    secured broker there (tests/e2e/test_secured_kafka.py); the chart must say the same."""
    users = of_kind(manifests, "KafkaUser")
    expected = grants(chart.declared())
    assert {name.rsplit("-", 1)[1] for name in users} == set(expected)
    for user, granted in expected.items():
        (found,) = [u for name, u in users.items() if name.endswith(f"-{user}")]
        got = {
            Grant(acl["resource"]["type"], acl["resource"]["name"], operation)
            for acl in found["spec"]["authorization"]["acls"]
            for operation in acl["operations"]
        }
        assert got == granted, user
