"""`python -m notifier`: run the notifier service."""

from __future__ import annotations

import typer

from notifier.main import create_service
from notifier.settings import NotifierSettings
from shared.runner import run_service

cli = typer.Typer(add_completion=False, help=__doc__)


@cli.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    """With no command, serve."""
    if ctx.invoked_subcommand is None:
        serve()


@cli.command()
def serve() -> None:
    """Start the service: HTTP on NOTIFIER_HTTP_PORT, Kafka consumers, PostgreSQL pool."""
    settings = NotifierSettings()
    run_service(create_service(settings), settings.http_port)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
