"""Keys for a local system, made once and kept under .devstack/ (never committed).

In production each key comes from the operator's secret store; locally `devstack env`
exports these so that the run command and the tests need no setup.
"""

from __future__ import annotations

import os
from pathlib import Path

from shared.sealed import generate_keypair, public_key_of


def local_secrets(home: Path) -> dict[str, str]:
    path = home / "secrets.env"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        private, _public = generate_keypair()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(f"INTAKE_PRIVATE_KEY={private}\n")
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    found = {name: value for name, value in pairs}
    # Locally, dead letters are sealed to intake's key too (one key to open them with).
    found.setdefault("DEAD_LETTER_PUBLIC_KEY", public_key_of(found["INTAKE_PRIVATE_KEY"]))
    return found
