"""Keys for a local system, made once and kept under .devstack/ (never committed).

In production each key comes from the operator's secret store; locally `devstack env`
exports these so that the run command and the tests need no setup.
"""

from __future__ import annotations

import os
from pathlib import Path

from shared.sealed import generate_keypair


def local_secrets(home: Path) -> dict[str, str]:
    path = home / "secrets.env"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        private, _public = generate_keypair()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(f"INTAKE_PRIVATE_KEY={private}\n")
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs}
