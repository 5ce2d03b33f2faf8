"""A secret never keeps a working default outside LOCAL_MODE (the local stand-ins)."""

from __future__ import annotations

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


@pytest.mark.parametrize("missing", sorted(REAL))
def test_each_placeholder_is_refused_by_name_outside_local_mode(missing: str) -> None:
    given = {k: v for k, v in REAL.items() if k != missing}
    with pytest.raises(ValidationError) as refused:
        NotifierSettings(**REQUIRED, **given)
    (error,) = refused.value.errors()
    assert missing in error["msg"]
    assert "placeholder" in error["msg"]


def test_real_secrets_start_without_local_mode() -> None:
    settings = NotifierSettings(**REQUIRED, **REAL)
    assert settings.local_mode is False
    assert settings.webhook_secret.get_secret_value() == REAL["NOTIFIER_WEBHOOK_SECRET"]


def test_local_mode_allows_the_stand_ins_placeholders() -> None:
    assert NotifierSettings(**REQUIRED, LOCAL_MODE=True).local_mode is True


def test_local_mode_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_MODE", "true")
    assert NotifierSettings(**REQUIRED).local_mode is True
