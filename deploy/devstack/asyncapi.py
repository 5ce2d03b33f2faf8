"""Each service's AsyncAPI document, generated from its code (the FastStream schema its
`/asyncapi` serves), written to docs/asyncapi/ and checked for staleness in CI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devstack.config import PROJECT_ROOT
from shared.sealed import generate_keypair

DOCS = PROJECT_ROOT / "docs" / "asyncapi"
# Settings that let each service be built (not started): the document depends only on code.
_PLACEHOLDERS: dict[str, Any] = {
    "kafka_bootstrap_servers": "kafka:9092",
    "kafka_topic_prefix": "",
}


def builders() -> dict[str, Callable[[], Any]]:
    from intake.main import create_service as intake
    from intake.settings import IntakeSettings
    from notifier.main import create_service as notifier
    from notifier.settings import NotifierSettings
    from router.main import create_service as router
    from router.settings import RouterSettings

    private, _ = generate_keypair()
    return {
        "intake": lambda: intake(
            IntakeSettings.model_validate(
                {**_PLACEHOLDERS, "private_key": private, "local_mode": True}
            )
        ),
        "router": lambda: router(RouterSettings.model_validate(_PLACEHOLDERS)),
        "notifier": lambda: notifier(
            NotifierSettings.model_validate(
                {**_PLACEHOLDERS, "intake_api_key": "placeholder", "local_mode": True}
            )
        ),
    }


def render(name: str, build: Callable[[], Any]) -> str:
    service = build()
    # FastStream lists channels in set order, which varies between runs: sort for a stable file.
    document = yaml.safe_load(service.asyncapi().to_specification().to_yaml())
    return str(yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=100))


def write_or_check(check: bool) -> list[str]:
    """Write the documents, or (check) return the names whose committed copy is stale."""
    stale = []
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, build in builders().items():
        text = render(name, build)
        path: Path = DOCS / f"{name}.yaml"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    return stale
