"""API keys for professional systems: shown once at creation, kept only as a SHA-256.

A key is 256 random bits, so a plain hash cannot be brute-forced; a slow password hash
would only slow every request down.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.database import Connection

Scope = Literal["referrer", "notifier", "clinic", "triage"]
KEY_PREFIX = "whr"


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    organisation_code: str
    scope: Scope


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    organisation_code: str
    scope: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def generate() -> tuple[str, str]:
    """(key id, key): 256 random bits behind a public id, in the shape `register` takes."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


async def create(
    conn: Connection, organisation_code: str, scope: Scope = "referrer", label: str = ""
) -> tuple[str, str]:
    """A new key; returns (key id, the key itself). The key is not stored and cannot be
    shown again."""
    key_id, secret = generate()
    await _insert(conn, key_id, secret, organisation_code, scope, label)
    return key_id, secret


async def register(
    conn: Connection, secret: str, organisation_code: str, scope: Scope, label: str = ""
) -> bool:
    """Store a key made beforehand with `generate` and kept in a secret store (a deployment
    hands the same key to the service that presents it); True if new, False if it was already
    registered. Safe to run at every deployment."""
    shape = _SHAPE.fullmatch(secret)
    if shape is None:
        raise ValueError("not a key made by `python -m intake keys generate`")
    existing = await conn.fetchval(
        "SELECT key_sha256 FROM api_keys WHERE key_id = $1", shape.group(1)
    )
    if existing is not None:
        if bytes(existing) != digest(secret):
            raise ValueError(f"key id {shape.group(1)} belongs to another key")
        return False
    await _insert(conn, shape.group(1), secret, organisation_code, scope, label)
    return True


_SHAPE = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{12}})_[A-Za-z0-9_-]{{43,}}")


async def _insert(
    conn: Connection, key_id: str, secret: str, organisation_code: str, scope: Scope, label: str
) -> None:
    await conn.execute(
        "INSERT INTO api_keys (key_id, key_sha256, organisation_code, scope, label)"
        " VALUES ($1, $2, $3, $4, $5)",
        key_id,
        digest(secret),
        # ODS codes are upper case; a clinic key names a directory site id, as written there.
        # a clinic's site id and a triage team's name as written; an ODS code in capitals
        organisation_code.strip()
        if scope in ("clinic", "triage")
        else organisation_code.strip().upper(),
        scope,
        label,
    )


async def revoke(conn: Connection, key_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL"
            " RETURNING true",
            key_id,
        )
    )


async def authenticate(conn: Connection, presented: str) -> ApiKey | None:
    row = await conn.fetchrow(
        "SELECT key_id, organisation_code, scope FROM api_keys"
        " WHERE key_sha256 = $1 AND revoked_at IS NULL",
        digest(presented),
    )
    return None if row is None else ApiKey(row["key_id"], row["organisation_code"], row["scope"])


async def still_valid(conn: Connection, key_id: str) -> ApiKey | None:
    """The key behind a session, if it has not been revoked since (checked on every page)."""
    row = await conn.fetchrow(
        "SELECT key_id, organisation_code, scope FROM api_keys"
        " WHERE key_id = $1 AND revoked_at IS NULL",
        key_id,
    )
    return None if row is None else ApiKey(row["key_id"], row["organisation_code"], row["scope"])


async def list_keys(conn: Connection) -> list[KeyRecord]:
    rows = await conn.fetch(
        "SELECT key_id, organisation_code, scope, label, created_at, revoked_at"
        " FROM api_keys ORDER BY created_at"
    )
    return [KeyRecord(**dict(r)) for r in rows]
