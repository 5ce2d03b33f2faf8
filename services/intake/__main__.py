"""`python -m intake`: run the intake service."""

from __future__ import annotations

from intake.main import create_service
from intake.settings import IntakeSettings
from shared.runner import service_cli

cli = service_cli("intake", IntakeSettings, create_service, lambda settings: settings.http_port)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
