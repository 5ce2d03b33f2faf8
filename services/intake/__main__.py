"""`python -m intake`: run the intake service."""

from __future__ import annotations

import typer

from intake.main import create_service
from intake.settings import IntakeSettings
from shared.runner import run_service

cli = typer.Typer(add_completion=False, help=__doc__)


@cli.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    """With no command, serve."""
    if ctx.invoked_subcommand is None:
        serve()


@cli.command()
def serve() -> None:
    """Start the service: HTTP on INTAKE_HTTP_PORT, Kafka consumers, PostgreSQL pool."""
    settings = IntakeSettings()
    run_service(create_service(settings), settings.http_port)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
