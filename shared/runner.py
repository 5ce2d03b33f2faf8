"""Run a service's app under uvicorn with the project's logging."""

from __future__ import annotations

import uvicorn

from shared.logging import configure_logging
from shared.service import Service


def run_service(service: Service, port: int) -> None:
    settings = service.settings
    configure_logging(service.name, settings.log_level, settings.log_format)
    uvicorn.run(
        service.app,
        host=settings.http_host,
        port=port,
        log_config=None,  # keep our JSON handler on the root logger
        access_log=False,
        lifespan="on",
    )
