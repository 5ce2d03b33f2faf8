"""Where each organisation that sends BaRS messages wants to hear back: its own
`$process-message` endpoint, one per organisation (as its API key), set by an operator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from shared.database import Connection

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class NotAnEndpoint(ValueError):
    """Not a URL a referral's news may be sent to."""


@dataclass(frozen=True)
class Endpoint:
    organisation_code: str
    url: str
    registered_at: datetime


def checked(url: str) -> str:
    """HTTPS, or plain HTTP to this machine only (the local stand-ins): news of a referral
    never travels in clear over a network."""
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
    if not parts.hostname or (parts.scheme != "https" and not local):
        raise NotAnEndpoint("an endpoint is an https:// URL (http:// only to localhost)")
    return url


async def register(conn: Connection, organisation_code: str, url: str) -> None:
    """Set (or replace) the organisation's endpoint."""
    await conn.execute(
        "INSERT INTO bars_endpoints (organisation_code, url) VALUES ($1, $2)"
        " ON CONFLICT (organisation_code) DO UPDATE SET url = $2, registered_at = now()",
        organisation_code.strip().upper(),
        checked(url),
    )


async def remove(conn: Connection, organisation_code: str) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM bars_endpoints WHERE organisation_code = $1 RETURNING true",
        organisation_code.strip().upper(),
    )
    return bool(deleted)


async def listed(conn: Connection) -> list[Endpoint]:
    rows = await conn.fetch(
        "SELECT organisation_code, url, registered_at FROM bars_endpoints"
        " ORDER BY organisation_code"
    )
    return [Endpoint(**dict(row)) for row in rows]
