"""Where a BaRS sender hears back must be reached over TLS: plain HTTP only to this machine."""

from __future__ import annotations

import pytest

from intake.adapters.bars_endpoints import NotAnEndpoint, checked


@pytest.mark.parametrize(
    "url",
    [
        "https://gp-system.example/FHIR/R4/$process-message",
        "http://127.0.0.1:8100/bars/G82080/$process-message",
        "http://localhost/bars",
    ],
)
def test_https_anywhere_and_http_to_this_machine_are_endpoints(url: str) -> None:
    assert checked(url) == url


@pytest.mark.parametrize(
    "url",
    ["http://gp-system.example/FHIR/R4", "ftp://x.example/", "https://", "gp-system.example"],
)
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(NotAnEndpoint):
        checked(url)
