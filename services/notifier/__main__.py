"""`python -m notifier`: run the notifier service."""

from __future__ import annotations

from notifier.main import create_service
from notifier.settings import NotifierSettings
from shared.runner import service_cli

cli = service_cli("notifier", NotifierSettings, create_service, lambda settings: settings.http_port)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
