"""Pages people use with a key of their team's (a clinic's, the triage team's): the key is
exchanged at sign-in for a session cookie (signed, HttpOnly, SameSite=Strict, Secure over
TLS, 8 hours), and checked again on every page, so a revoked key ends its sessions. One
signer per door (its own salt), so a session of one door opens no other."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from intake.adapters import api_keys
from intake.adapters.api_keys import ApiKey, Scope
from intake.web.pages import Pages, first
from shared.database import Database
from shared.logging import get_logger

log = get_logger(__name__)
SESSION_SECONDS = 8 * 60 * 60


@dataclass(frozen=True)
class Door:
    """A door of staff pages: its path, whose key opens it, and its pages' frame."""

    path: str  # "/clinic"
    scope: Scope
    team: str  # "clinic", in "Sign in to your clinic's worklist"
    layout: str  # the door's base template
    cookie: str


class KeySessions:
    def __init__(self, database: Database, pages: Pages, secret: bytes, door: Door) -> None:
        self.database, self.pages, self.door = database, pages, door
        self.signer = URLSafeTimedSerializer(secret, salt=f"{door.scope}-session")

    async def signed_in(self, request: Request) -> ApiKey | None:
        cookie = request.cookies.get(self.door.cookie)
        if not cookie:
            return None
        try:
            key_id = self.signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        async with self.database.pool.acquire() as conn:
            key = await api_keys.still_valid(conn, str(key_id))
        return key if key is not None and key.scope == self.door.scope else None

    def sign_in_page(
        self, request: Request, status: int = 200, error: str | None = None
    ) -> Response:
        door = self.door
        return self.pages.render(
            request, "sign_in.html", status, error=error, layout=door.layout, door=door.path,
            team=door.team, scope=door.scope,
        )  # fmt: skip

    def add_routes(self, router: APIRouter) -> None:
        """`POST <door>/sign-in` (counted like wrong API keys) and `POST <door>/sign-out`, on
        the door's router (whose prefix is the door's path)."""

        @router.post("/sign-in", response_class=HTMLResponse)
        async def sign_in(request: Request) -> Response:
            fields, refused = await self.pages.accepted_post(request, f"{self.door.scope}-sign-in")
            if refused is not None:
                return refused
            assert fields is not None
            key = await self._authenticated(fields)
            if key is None:
                why = f"That key is not a {self.door.team}'s key, or not valid."
                return self.sign_in_page(request, 401, why)
            response = RedirectResponse(self.door.path, status_code=303)
            response.set_cookie(
                self.door.cookie,
                str(self.signer.dumps(key.key_id)),
                max_age=SESSION_SECONDS,
                **self.pages.cookie_options(request),
            )
            return response

        @router.post("/sign-out", response_class=HTMLResponse)
        async def sign_out(request: Request) -> Response:
            _fields, refused = await self.pages.accepted_post(request, None)
            if refused is not None:
                return refused
            response = RedirectResponse(self.door.path, status_code=303)
            response.delete_cookie(self.door.cookie, **self.pages.cookie_options(request))
            return response

    async def _authenticated(self, fields: dict[str, list[str]]) -> ApiKey | None:
        async with self.database.pool.acquire() as conn:
            key = await api_keys.authenticate(conn, first(fields, "key").strip())
        if key is None or key.scope != self.door.scope:
            log.info("sign-in refused", door=self.door.path)
            return None
        log.info("signed in", door=self.door.path, key_id=key.key_id, team=key.organisation_code)
        return key
