"""`python -m intake keys generate | register`: a key made for a secret store and registered
by a deployment job (docker compose's `notifier-key`), as intake's CLI runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from devstack.services import run_cli, service_process
from tests.support.servers import Servers


def register(namespace: dict[str, str], key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "intake", "keys", "register", "--organisation", "NOTIFIER"),
            *("--scope", "notifier", "--key-env", "KEY_TO_REGISTER"),
        ],
        env={**namespace, "KEY_TO_REGISTER": key},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def namespace(servers: Servers, db_schema: str) -> dict[str, str]:
    return {**os.environ, "INTAKE_DB_SCHEMA": db_schema}


def test_a_generated_key_registered_twice_is_stored_once_and_opens_the_contacts(
    namespace: dict[str, str],
) -> None:
    key = run_cli("intake", "keys", "generate", env={})
    assert key != run_cli("intake", "keys", "generate", env={})

    first, second = register(namespace, key), register(namespace, key)
    assert (first.returncode, first.stdout.strip()) == (0, "registered")
    assert (second.returncode, second.stdout.strip()) == (0, "already registered")
    listed = run_cli("intake", "keys", "list", env=namespace).splitlines()
    assert [line for line in listed if "NOTIFIER" in line and "notifier" in line] == listed
    assert len(listed) == 1
    assert key not in "\n".join(listed)

    with service_process("intake", namespace) as intake:
        headers = {"Authorization": f"Bearer {key}"}
        answer = httpx.post(
            f"{intake.url}/v1/referrals/contacts",
            json={"referral_ids": [str(uuid.uuid4())]},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        wrong = httpx.post(
            f"{intake.url}/v1/referrals/contacts",
            json={"referral_ids": [str(uuid.uuid4())]},
            headers={"Authorization": f"Bearer {key[:-1]}x"},
        )
        assert wrong.status_code == 401


@pytest.mark.parametrize(
    "key", ["", "a-password", "whr_0123456789ab_short", "whr_NOTHEX000000_" + "k" * 43]
)
def test_a_key_not_made_by_generate_is_refused_and_never_echoed(
    namespace: dict[str, str], key: str
) -> None:
    refused = register(namespace, key)
    assert refused.returncode != 0
    assert "KEY_TO_REGISTER" in refused.stderr
    if key:
        assert key not in refused.stderr + refused.stdout
    assert run_cli("intake", "keys", "list", env=namespace) == ""
