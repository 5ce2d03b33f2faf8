"""`python -m router`: run the router service."""

from __future__ import annotations

from router.main import create_service
from router.settings import RouterSettings
from shared.runner import service_cli

cli = service_cli("router", RouterSettings, create_service, lambda settings: settings.http_port)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
