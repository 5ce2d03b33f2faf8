"""Pages people use with a key of their team's (a clinic's, the triage team's): the key is
exchanged at sign-in for a session cookie (signed, HttpOnly, SameSite=Strict, Secure over
TLS, 8 hours), and checked again on every page, so a revoked key ends its sessions. One
signer per door (its own salt), so a session of one door opens no other."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from intake.adapters import api_keys
from intake.adapters.api_keys import ApiKey, Scope
from intake.web.pages import Pages, first
from shared.database import Database
from shared.logging import get_logger

log = get_logger(__name__)
SESSION_SECONDS = 8 * 60 * 60


class KeySessions:
    def __init__(
        self, database: Database, pages: Pages, secret: bytes, *, scope: Scope, cookie: str
    ) -> None:
        self.database, self.pages, self.scope, self.cookie = database, pages, scope, cookie
        self.signer = URLSafeTimedSerializer(secret, salt=f"{scope}-session")

    async def signed_in(self, request: Request) -> ApiKey | None:
        cookie = request.cookies.get(self.cookie)
        if not cookie:
            return None
        try:
            key_id = self.signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        async with self.database.pool.acquire() as conn:
            key = await api_keys.still_valid(conn, str(key_id))
        return key if key is not None and key.scope == self.scope else None

    async def sign_in(self, request: Request, fields: dict[str, list[str]]) -> ApiKey | None:
        """The key a sign-in form gave, if it is a valid one of this door's scope."""
        async with self.database.pool.acquire() as conn:
            key = await api_keys.authenticate(conn, first(fields, "key").strip())
        if key is None or key.scope != self.scope:
            log.info("sign-in refused", door=self.scope)
            return None
        log.info("signed in", door=self.scope, key_id=key.key_id, team=key.organisation_code)
        return key

    def start(self, request: Request, key: ApiKey, home: str) -> Response:
        response = RedirectResponse(home, status_code=303)
        response.set_cookie(
            self.cookie,
            str(self.signer.dumps(key.key_id)),
            max_age=SESSION_SECONDS,
            **self.pages.cookie_options(request),
        )
        return response

    def end(self, request: Request, home: str) -> Response:
        response = RedirectResponse(home, status_code=303)
        response.delete_cookie(self.cookie, **self.pages.cookie_options(request))
        return response
