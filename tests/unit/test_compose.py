"""deploy/docker-compose.yml cannot run here (no Docker engine); check what can be checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from intake.settings import IntakeSettings
from notifier.settings import NotifierSettings
from router.settings import RouterSettings
from shared import tracing
from shared.settings import env_name
from tests.support.keys import INTAKE_PRIVATE_KEY

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
SERVICES: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "router": RouterSettings,
    "notifier": NotifierSettings,
}


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads."""
    return {env_name(settings, name) for name in settings.model_fields}


def test_every_container_has_an_image_or_a_build() -> None:
    for name, spec in COMPOSE["services"].items():
        assert "image" in spec or "build" in spec, name


@pytest.mark.parametrize("name", ["kafka", "postgres", "kafka-ui", *SERVICES])
def test_long_running_containers_have_healthchecks(name: str) -> None:
    assert COMPOSE["services"][name]["healthcheck"]["test"]


def test_kafka_runs_in_kraft_mode() -> None:
    env = COMPOSE["services"]["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env


@pytest.mark.parametrize("name", SERVICES)
def test_services_wait_for_healthy_servers_and_topics(name: str) -> None:
    depends = COMPOSE["services"][name]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", SERVICES)
def test_service_env_is_what_the_service_reads(name: str) -> None:
    spec: dict[str, Any] = COMPOSE["services"][name]
    env = spec["environment"]
    readable = env_names(SERVICES[name]) | {tracing.ENDPOINT}  # the OpenTelemetry SDK's
    assert set(env) <= readable, set(env) - readable
    assert {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"} <= set(env)
    # The healthcheck probes the port the service is told to listen on.
    port = str(env[f"{name.upper()}_HTTP_PORT"])
    probe = " ".join(spec["healthcheck"]["test"])
    assert re.search(rf":{port}/health/ready", probe), probe
    assert spec["build"]["args"]["SERVICE"] == name


def test_service_database_url_matches_postgres_credentials() -> None:
    pg = COMPOSE["services"]["postgres"]["environment"]
    url = COMPOSE["services"]["intake"]["environment"]["DATABASE_URL"]
    assert url == (
        f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
    )


# What an operator's .env gives compose: real-looking secrets, none of them a placeholder.
OPERATOR_ENV = {
    "INTAKE_PRIVATE_KEY": INTAKE_PRIVATE_KEY,
    "NOTIFIER_INTAKE_API_KEY": "whr_0123456789ab_" + "k" * 43,
    "NOTIFIER_NOTIFY_API_KEY": "live-11111111-2222-4333-8444-555555555555-"
    "66666666-7777-4888-8999-000000000000",
    "NOTIFIER_WEBHOOK_SECRET": "w" * 40,
    "NOTIFIER_CALLBACK_TOKEN": "c" * 40,
    "NOTIFIER_SMTP_HOST": "relay.example.nhs.uk",
    "INTAKE_OIDC_ISSUER": "https://am.nhsidentity.spineservices.nhs.uk/openam/oauth2/realms/root/realms/oidc",
    "INTAKE_OIDC_CLIENT_ID": "womens-health-referrals",
    "INTAKE_OIDC_CLIENT_SECRET": "s" * 40,
}
INTERPOLATION = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(value: object, given: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against `given`."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if given.get(name):
            return given[name]
        if kind == "?":
            raise LookupError(f"compose refuses to start: {rest}")
        return rest or ""

    return INTERPOLATION.sub(one, str(value))


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_can_be_built_from_composes_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a subset check: the settings are built, as the container would build them, with
    nothing from this machine's environment (LOCAL_MODE included) to help."""
    for variable in env_names(SERVICES[name]) | {"LOCAL_MODE"}:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in COMPOSE["services"][name]["environment"].items():
        monkeypatch.setenv(variable, interpolate(value, OPERATOR_ENV))
    settings = SERVICES[name]()
    assert settings.local_mode is False  # type: ignore[attr-defined]


@pytest.mark.parametrize("secret", sorted(set(OPERATOR_ENV) - {"NOTIFIER_SMTP_HOST"}))
def test_compose_refuses_to_start_without_each_secret(secret: str) -> None:
    """No secret has a working default: compose stops with a message naming it."""
    users = [
        name for name, spec in COMPOSE["services"].items() if secret in spec.get("environment", {})
    ]
    assert users, secret
    for name in users:
        value = COMPOSE["services"][name]["environment"][secret]
        with pytest.raises(LookupError, match=secret):
            interpolate(value, {k: v for k, v in OPERATOR_ENV.items() if k != secret})


def test_the_notifier_key_job_registers_the_key_the_notifier_presents() -> None:
    job, notifier = COMPOSE["services"]["notifier-key"], COMPOSE["services"]["notifier"]
    command = job["command"]
    assert command[:5] == ["python", "-m", "intake", "keys", "register"]
    assert command[command.index("--scope") + 1] == "notifier"
    variable = command[command.index("--key-env") + 1]
    assert job["environment"][variable] == notifier["environment"]["NOTIFIER_INTAKE_API_KEY"]
    depends = notifier["depends_on"]
    assert depends["notifier-key"]["condition"] == "service_completed_successfully"
    assert job["environment"]["DATABASE_URL"] == notifier["environment"]["DATABASE_URL"]
