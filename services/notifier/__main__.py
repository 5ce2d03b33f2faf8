"""`python -m notifier`: run the notifier service, or print a clinic's webhook secret."""

from __future__ import annotations

import typer

from notifier.adapters.webhook_provider import clinic_secret
from notifier.main import create_service
from notifier.settings import NotifierSettings
from shared.runner import service_cli

cli = service_cli("notifier", NotifierSettings, create_service, lambda settings: settings.http_port)


@cli.command("webhook-secret")
def webhook_secret(site: str) -> None:
    """The secret a clinic (directory site id) uses to verify our webhook signatures."""
    master = NotifierSettings().webhook_secret.get_secret_value().encode()
    typer.echo(clinic_secret(master, site).decode())


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
