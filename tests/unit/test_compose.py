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

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
SERVICES: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "router": RouterSettings,
    "notifier": NotifierSettings,
}


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads."""
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else name.upper())
    return names


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
    readable = env_names(SERVICES[name])
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
