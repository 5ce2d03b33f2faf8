"""The three services as separate processes in one namespace of their own, the notifier
pointed at the provider stand-ins: what the e2e pipeline tests and the pipeline benchmark run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from devstack.services import ServiceProcess, run_cli
from devstack.services import service_process as start_process
from notifier.settings import LOCAL_CALLBACK_TOKEN
from standins.client import Standins


@dataclass(frozen=True)
class System:
    env: dict[str, str]
    intake: ServiceProcess
    router: ServiceProcess
    notifier: ServiceProcess
    referrer_key: str  # may submit for organisation M85001
    more: tuple[ServiceProcess, ...] = ()  # further processes of each (`replicas`)

    @property
    def processes(self) -> list[ServiceProcess]:
        return [self.intake, self.router, self.notifier, *self.more]

    def of(self, service: str) -> list[ServiceProcess]:
        """Every process of one service (its name is the process's command's module)."""
        return [p for p in self.processes if p.name == service]


@contextmanager
def running_system(
    prefix: str,
    standins: Standins,
    own: Mapping[str, Mapping[str, str]] | None = None,
    replicas: int = 1,
    **extra_env: str,
) -> Iterator[System]:
    """Topics under `prefix` (created by the caller); schemas and consumer groups of its own.
    `own`: settings of one service alone (say, its own Kafka user), over the rest;
    `replicas`: processes of each service, sharing its schema and consumer groups."""
    tag = uuid.uuid4().hex[:8]
    env = {"KAFKA_TOPIC_PREFIX": prefix, **standins.notifier_env(), **extra_env}
    for service in ("intake", "router", "notifier"):
        env[f"{service.upper()}_DB_SCHEMA"] = f"sys_{service}_{tag}"
        env[f"{service.upper()}_CONSUMER_GROUP"] = f"{service}-{tag}"
    own = own or {}

    def service_process(name: str, env: dict[str, str]) -> Any:
        return start_process(name, {**env, **own.get(name, {})})

    with service_process("intake", env) as intake:
        key = run_cli("intake", "keys", "create", "--organisation", "M85001", env=env)
        env["NOTIFIER_INTAKE_URL"] = intake.url
        env["NOTIFIER_INTAKE_API_KEY"] = run_cli(
            "intake", "keys", "create", "--organisation", "NOTIFIER", "--scope", "notifier", env=env
        )
        with (
            service_process("router", env) as router,
            service_process("notifier", env) as notifier,
            ExitStack() as more,
        ):
            standins.send_receipts_to(
                f"{notifier.url}/v1/notify/callback",
                env.get("NOTIFIER_CALLBACK_TOKEN", LOCAL_CALLBACK_TOKEN),
            )
            extra = tuple(
                more.enter_context(service_process(name, env))
                for _ in range(replicas - 1)
                for name in ("intake", "router", "notifier")
            )
            yield System(env, intake, router, notifier, key, extra)
