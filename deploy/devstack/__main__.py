"""`python -m devstack up|down|status|env|topics`: the local Kafka and PostgreSQL servers,
and the OpenID Connect provider the staff sign in with (Keycloak).

DEVSTACK_KAFKA_BROKERS=3 makes the Kafka a three-node KRaft cluster (replication factor 3,
min.insync.replicas 2); its state is kept apart from the single broker's, but it uses the same
ports unless DEVSTACK_KAFKA_PORT and DEVSTACK_KAFKA_CONTROLLER_PORT say otherwise."""

from __future__ import annotations

import asyncio
import time

import typer

from devstack.config import StackSettings
from devstack.frontend import BUILT, ROOT, FrontendError
from devstack.frontend import build as frontend_build
from devstack.kafka import KafkaServer, kafka_version
from devstack.keycloak import CLIENT_ID as KEYCLOAK_CLIENT_ID
from devstack.keycloak import CLIENT_SECRET as KEYCLOAK_CLIENT_SECRET
from devstack.keycloak import VERSION as KEYCLOAK_VERSION
from devstack.keycloak import KeycloakServer
from devstack.postgres import PostgresServer
from devstack.secrets import local_secrets
from devstack.topics import ensure_topics

cli = typer.Typer(
    help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)


def _servers() -> tuple[StackSettings, KafkaServer, PostgresServer]:
    settings = StackSettings()
    return settings, KafkaServer(settings), PostgresServer(settings)


def _provider() -> KeycloakServer:
    return KeycloakServer(StackSettings())


@cli.command()
def up() -> None:
    """Start Kafka, PostgreSQL and Keycloak (fetching Kafka and Keycloak on first use), create
    topics and database."""
    settings, kafka, postgres = _servers()
    keycloak = _provider()
    began = time.monotonic()
    try:
        started_kafka = kafka.start()
        started_pg = postgres.start()
        started_keycloak = keycloak.start()
        created = asyncio.run(ensure_topics(settings.kafka_bootstrap))
    except (RuntimeError, TimeoutError, OSError) as error:
        typer.echo(f"devstack: {error}", err=True)
        raise typer.Exit(1) from error
    took = time.monotonic() - began
    typer.echo(
        f"devstack: Apache Kafka {kafka_version()} (KRaft) "
        f"{'started' if started_kafka else 'already running'} at {settings.kafka_bootstrap}"
    )
    typer.echo(
        f"devstack: {postgres.version()} "
        f"{'started' if started_pg else 'already running'} at {settings.database_url}"
    )
    typer.echo(
        f"devstack: Keycloak {KEYCLOAK_VERSION} "
        f"{'started' if started_keycloak else 'already running'} at {keycloak.issuer}"
    )
    if created:
        typer.echo(f"devstack: created topics {', '.join(created)}")
    typer.echo(f"devstack: ready in {took:.1f}s")


@cli.command()
def down() -> None:
    """Stop the servers `up` started; data stays under .devstack/ for the next start."""
    _, kafka, postgres = _servers()
    servers = (("Kafka", kafka), ("PostgreSQL", postgres), ("Keycloak", _provider()))
    for name, server in servers:
        typer.echo(f"devstack: {name} {'stopped' if server.stop() else 'was not running'}")
    from devstack.secured_kafka import SecuredKafka

    if SecuredKafka(settings=_servers()[0]).stop():  # only when `secured-kafka up` started it
        typer.echo("devstack: secured Kafka stopped")


@cli.command()
def status() -> None:
    """Say whether each server runs; exit 1 when any does not."""
    settings, kafka, postgres = _servers()
    pids = [node.running_pid() for node in kafka.nodes]
    for node, pid in zip(kafka.nodes, pids, strict=True):
        name = "kafka" if len(kafka.nodes) == 1 else f"kafka-{node.node_id}"
        typer.echo(
            f"{name:<9} {'running pid ' + str(pid) if pid else 'stopped'}  "
            f"{node.address}  log {node.log}"
        )
    pg_pid = postgres.running_pid()
    typer.echo(
        f"postgres  {'running pid ' + str(pg_pid) if pg_pid else 'stopped'}  "
        f"{settings.database_url}  log {postgres.log}"
    )
    keycloak = _provider()
    kc_pid = keycloak.running_pid()
    typer.echo(
        f"keycloak  {'running pid ' + str(kc_pid) if kc_pid else 'stopped'}  "
        f"{keycloak.issuer}  log {keycloak.log}"
    )
    if not (all(pids) and pg_pid and kc_pid):
        raise typer.Exit(1)


@cli.command()
def frontend() -> None:
    """Build the NHS design system (nhsuk-frontend, from npm) into intake's static files."""
    try:
        built = frontend_build()
    except FrontendError as error:
        typer.echo(f"devstack: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"devstack: nhsuk-frontend {built} built into {BUILT.relative_to(ROOT)}")


@cli.command()
def env() -> None:
    """Print the environment that points the services and tests at this stack, with the
    local keys (made on first use, kept in .devstack/secrets.env)."""
    settings = StackSettings()
    typer.echo(f"export KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap}")
    typer.echo(f"export DATABASE_URL={settings.database_url}")
    typer.echo("export LOCAL_MODE=true")  # the stand-ins' placeholder secrets are allowed
    keycloak = _provider()
    typer.echo(f"export INTAKE_OIDC_ISSUER={keycloak.issuer}")
    typer.echo(f"export INTAKE_OIDC_CLIENT_ID={KEYCLOAK_CLIENT_ID}")
    typer.echo(f"export INTAKE_OIDC_CLIENT_SECRET={KEYCLOAK_CLIENT_SECRET}")
    for name, value in local_secrets(settings.home).items():
        typer.echo(f"export {name}={value}")


@cli.command()
def topics(
    bootstrap_servers: str = typer.Option(..., envvar="KAFKA_BOOTSTRAP_SERVERS"),
) -> None:
    """Create the system's topics on any broker (used by docker compose too)."""
    created = asyncio.run(ensure_topics(bootstrap_servers))
    typer.echo(f"created: {', '.join(created) or 'none (all present)'}")


@cli.command()
def asyncapi(
    check: bool = typer.Option(False, "--check", help="Fail if a committed document is stale."),
) -> None:
    """Generate each service's AsyncAPI document into docs/asyncapi/ from the code."""
    from devstack.asyncapi import DOCS, write_or_check

    stale = write_or_check(check)
    if stale:
        typer.echo(
            f"devstack: stale AsyncAPI for {', '.join(stale)}; run `python -m devstack asyncapi`"
            " and commit docs/asyncapi/",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"devstack: AsyncAPI {'up to date' if check else 'written'} in {DOCS}")


@cli.command()
def chart(
    check: bool = typer.Option(False, "--check", help="Fail if the committed copy is stale."),
) -> None:
    """Write what the Helm chart takes from the code (topics, ports, Kafka access) into it."""
    from devstack.chart import DECLARED, write_or_check

    if write_or_check(check):
        typer.echo(
            "devstack: the chart's files/declared.json is stale; run `python -m devstack chart`"
            " and commit it",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"devstack: {DECLARED.name} {'up to date' if check else 'written'}")


@cli.command()
def helm() -> None:
    """Build the pinned Helm (once) and fetch the operators' CRD schemas the chart is checked
    against; prints where Helm is."""
    from devstack.helm import crd_schemas, ensure_helm

    path = ensure_helm()
    kinds = sorted({kind for _version, kind in crd_schemas()})
    typer.echo(f"devstack: {path} ready; CRD schemas for {len(kinds)} kinds")


secured = typer.Typer(help="A second, locked-down Kafka: TLS, SCRAM users, ACLs (as production).")
cli.add_typer(secured, name="secured-kafka")


@secured.command("up")
def secured_up() -> None:
    """Start it afresh beside the default broker: users, topics and each service's ACLs."""
    from devstack.secured_kafka import SecuredKafka

    kafka = SecuredKafka()
    kafka.start()
    typer.echo(f"devstack: secured Kafka at {kafka.address} (TLS, SCRAM-SHA-512, ACLs)")
    typer.echo("devstack: `python -m devstack secured-kafka env <service>` prints its settings")


@secured.command("env")
def secured_env(user: str = typer.Argument(help="intake, router, notifier or operations")) -> None:
    """The settings with which `user` reaches the secured broker, as shell exports."""
    from devstack.secured_kafka import SecuredKafka

    for name, value in SecuredKafka().env(user).items():
        typer.echo(f"export {name}={value}")


@secured.command("down")
def secured_down() -> None:
    from devstack.secured_kafka import SecuredKafka

    stopped = SecuredKafka().stop()
    typer.echo(f"devstack: secured Kafka {'stopped' if stopped else 'was not running'}")


@cli.command()
def openapi(
    check: bool = typer.Option(False, "--check", help="Fail if docs/openapi.json is stale."),
) -> None:
    """Generate intake's OpenAPI document into docs/openapi.json from the code (validated)."""
    from devstack.openapi import DOCUMENT, write_or_check

    if not write_or_check(check):
        typer.echo(
            "devstack: stale docs/openapi.json; run `python -m devstack openapi` and commit it",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"devstack: OpenAPI {'up to date' if check else 'written'} in {DOCUMENT}")


@cli.command("bars-examples")
def bars_examples() -> None:
    """Write one BaRS referral message per service into docs/bars/examples/, dated today."""
    from devstack.bars_examples import write_examples
    from shared.clock import today

    for path in write_examples(today()):
        typer.echo(f"devstack: wrote {path}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
