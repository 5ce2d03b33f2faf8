"""A secret never keeps a working default outside LOCAL_MODE (the local stand-ins)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from notifier.settings import NotifierSettings

REQUIRED = {"NOTIFIER_INTAKE_API_KEY": "whr_0123456789ab_" + "k" * 43}
REAL = {
    "NOTIFIER_NOTIFY_API_KEY": "live-11111111-2222-4333-8444-555555555555-"
    "66666666-7777-4888-8999-000000000000",
    "NOTIFIER_WEBHOOK_SECRET": "w" * 40,
    "NOTIFIER_CALLBACK_TOKEN": "c" * 40,
}


@pytest.fixture(autouse=True)
def _nothing_from_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*REAL, "LOCAL_MODE"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set variables as an operator would (the settings read them by these names)."""

    def given(**names: str) -> None:
        for name, value in names.items():
            monkeypatch.setenv(name, value)

    return given


@pytest.mark.parametrize("missing", sorted(REAL))
def test_each_placeholder_is_refused_by_name_outside_local_mode(
    missing: str, environ: Callable[..., None]
) -> None:
    environ(**REQUIRED, **{k: v for k, v in REAL.items() if k != missing})
    with pytest.raises(ValidationError) as refused:
        NotifierSettings()
    (error,) = refused.value.errors()
    assert missing in error["msg"]
    assert "placeholder" in error["msg"]


def test_real_secrets_start_without_local_mode(environ: Callable[..., None]) -> None:
    environ(**REQUIRED, **REAL)
    settings = NotifierSettings()
    assert settings.local_mode is False
    assert settings.webhook_secret.get_secret_value() == REAL["NOTIFIER_WEBHOOK_SECRET"]


def test_local_mode_allows_the_stand_ins_placeholders(environ: Callable[..., None]) -> None:
    environ(**REQUIRED, LOCAL_MODE="true")
    assert NotifierSettings().local_mode is True


def test_local_mode_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_MODE", "true")
    monkeypatch.setenv("NOTIFIER_INTAKE_API_KEY", REQUIRED["NOTIFIER_INTAKE_API_KEY"])
    assert NotifierSettings().local_mode is True
