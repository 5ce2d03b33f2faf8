"""Run a service's app under uvicorn with the project's logging."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import typer
import uvicorn
from pydantic import ValidationError

from shared.database import Migrations, run_on_database
from shared.errors import ConfigurationError
from shared.heap import settle
from shared.logging import configure_logging
from shared.service import Service
from shared.settings import ServiceSettings

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def run_service(service: Service, port: int) -> None:
    settings = service.settings
    configure_logging(service.name, settings.log_level, settings.log_format)
    settle()  # everything imported and built by now lives as long as the process
    uvicorn.run(
        service.app,
        host=settings.http_host,
        port=port,
        log_config=None,  # keep our JSON handler on the root logger
        access_log=False,
        lifespan="on",
        # X-Forwarded-For is believed only from the proxies an operator names: otherwise
        # any client could pick its own address (and its own rate-limit key).
        proxy_headers=settings.trusted_proxies is not None,
        forwarded_allow_ips=settings.trusted_proxies or "",
    )


def service_cli(
    name: str,
    settings_type: Callable[[], SettingsT],
    create_service: Callable[[SettingsT], Service],
    port_of: Callable[[SettingsT], int],
    *,
    database: Callable[[], Any],
    migrations: Migrations,
) -> typer.Typer:
    """`python -m <name>` serves; `migrate` applies its migrations alone (`database`: the
    settings with its DATABASE_URL and schema, no secret); a service adds its own commands
    to the returned app."""
    cli = typer.Typer(add_completion=False, help=f"The {name} service.")

    @cli.callback(invoke_without_command=True)
    def default(ctx: typer.Context) -> None:
        """With no command, serve."""
        # Every command logs (JSON, to stderr) so that a command's standard output holds only
        # its answer, e.g. a new API key.
        configure_logging(name, os.environ.get("LOG_LEVEL", "INFO"), "json")
        if ctx.invoked_subcommand is None:
            serve()

    @cli.command()
    def serve() -> None:
        """Start the service: HTTP, Kafka consumers, PostgreSQL pool."""
        try:
            settings = settings_type()
        except ValidationError as error:  # a missing or bad setting: say which, not a traceback
            for problem in error.errors(include_input=False, include_url=False):
                where = ".".join(str(p) for p in problem["loc"])
                typer.echo(f"{name}: setting {where}: {problem['msg']}", err=True)
            raise typer.Exit(2) from error
        try:
            service = create_service(settings)
        except ConfigurationError as error:  # e.g. a broken directory: refuse, say why
            typer.echo(f"{name}: {error}", err=True)
            raise typer.Exit(2) from error
        run_service(service, port_of(settings))

    @cli.command()
    def migrate() -> None:
        """Apply the database migrations and stop: a deployment's job before new processes
        start (serving applies them too, under the same lock, so this is never required)."""
        settings = database()

        async def nothing(_pool: Any) -> None:
            return None

        run_on_database(str(settings.database_url), settings.db_schema, migrations, nothing)
        typer.echo(f"{name}: schema {settings.db_schema} is up to date")

    return cli
