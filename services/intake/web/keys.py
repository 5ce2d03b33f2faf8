"""The API key every `/v1` route takes: a Bearer key per organisation (or clinic site), with
wrong keys counted per client so that guessing is slowed to `INTAKE_FAILED_KEY_LIMIT`.

A key found valid is remembered for `INTAKE_API_KEY_REMEMBER_SECONDS` (by its SHA-256), so
that a system sending many referrals is not looked up, nor its client's failures counted,
for each: two PostgreSQL round trips were a tenth of a request's cost. A revoked key is
therefore refused by every process within that time. Guessing is slowed as before: a guess
is never a remembered key, so it is counted and checked against the limit."""

# No `from __future__ import annotations`: FastAPI evaluates the dependency's signature.
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem

from intake.adapters import api_keys
from intake.adapters.api_keys import ApiKey
from intake.web.problems import Problem
from shared.database import Database
from shared.logging import get_logger
from shared.rate_limits import RateLimits

log = get_logger(__name__)

ApiKeyDependency = Callable[..., Awaitable[ApiKey]]


REMEMBERED_KEYS = 10_000  # at most, per process


def api_key_dependency(
    database: Database,
    rate_limits: RateLimits,
    failed_key_limit: RateLimitItem,
    *,
    remember_seconds: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
) -> ApiKeyDependency:
    bearer = HTTPBearer(auto_error=False, description="The organisation's API key.")
    remembered: TTLCache[bytes, ApiKey] | None = (
        TTLCache(REMEMBERED_KEYS, remember_seconds, timer=clock) if remember_seconds > 0 else None
    )

    async def api_key(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiKey:
        digest = api_keys.digest(credentials.credentials) if credentials else None
        known = remembered.get(digest) if remembered is not None and digest else None
        if known is not None:  # one read: the entry may expire between two
            return known
        client = request.client.host if request.client else "unknown"
        wait = await rate_limits.exceeded("failed-api-key", client, failed_key_limit)
        if wait is not None:
            log.warning("api key attempts refused: too many failures from one client")
            raise Problem(
                429,
                "Too many requests with a wrong API key. Try again later.",
                headers={"Retry-After": str(wait)},
            )
        if credentials is not None:
            async with database.pool.acquire() as conn:
                key = await api_keys.authenticate(conn, credentials.credentials)
            if key is not None:
                if remembered is not None and digest is not None:
                    remembered[digest] = key
                return key
        await rate_limits.hit("failed-api-key", client, failed_key_limit)
        raise Problem(
            401,
            "A valid API key is required (Authorization: Bearer <key>).",
            headers={"WWW-Authenticate": "Bearer"},
        )

    return api_key


Scope = Literal["referrer", "clinic", "notifier", "triage"]
_WHOSE = {
    "referrer": "a referrer's",
    "clinic": "a clinic's",
    "notifier": "the notifier's",
    "triage": "the triage team's",
}


def of_scope(api_key: ApiKeyDependency, scope: Scope) -> ApiKeyDependency:
    """A valid key of this kind, or 403."""

    async def key_of_scope(key: Annotated[ApiKey, Depends(api_key)]) -> ApiKey:
        if key.scope != scope:
            raise Problem(403, f"Only {_WHOSE[scope]} key may do this.")
        return key

    return key_of_scope


@dataclass(frozen=True)
class Keys:
    """The dependency for each kind of key, made once: a route asks for
    `Annotated[ApiKey, Depends(keys.clinic)]` instead of comparing scopes itself."""

    any: ApiKeyDependency
    referrer: ApiKeyDependency
    clinic: ApiKeyDependency
    notifier: ApiKeyDependency

    @classmethod
    def over(cls, api_key: ApiKeyDependency) -> "Keys":
        return cls(
            any=api_key,
            referrer=of_scope(api_key, "referrer"),
            clinic=of_scope(api_key, "clinic"),
            notifier=of_scope(api_key, "notifier"),
        )
