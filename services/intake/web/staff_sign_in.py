"""Staff sign in as themselves through OpenID Connect (DOMAIN.md, "Staff act as themselves"):
the authorization code flow with PKCE (S256), through Authlib, against the provider named by
its issuer (CIS2 in production, Keycloak locally). Authlib checks the `state`, and validates
the ID token: signature by the provider's published keys, issuer, audience, expiry, nonce.

A session is a row in `staff_sessions` (8 hours at most): the browser holds only its id,
signed, in an HttpOnly, SameSite=Lax cookie (`_cookie` says why not Strict), so signing out
ends it at once, and so does the provider's back-channel logout (a logout token it signed).
The login's own state (state, nonce, code verifier) lives for 10 minutes in a separate
cookie that must be Lax: the provider's redirect back is a cross-site navigation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from intake.domain.staff import Staff, StaffRole
from intake.web.form_body import FormRefused, read_form
from intake.web.pages import Pages
from intake.web.staff_roles import StaffRoles
from shared.database import Database
from shared.logging import get_logger

log = get_logger(__name__)
SESSION = timedelta(hours=8)
COOKIE = "whr_staff"
LOGIN_STATE_COOKIE = "whr_sign_in"
LOGIN_STATE_SECONDS = 600
PATH = "/staff"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True)
class StaffDoor:
    """A door of staff pages: its path, its frame, what it is, and the role it needs."""

    path: str  # "/clinic"
    layout: str  # its base template
    what: str  # "the clinic's worklist"
    role: StaffRole


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str


class StaffSessions:
    """Who is signed in, from the session cookie; and the sign-in, callback and sign-out."""

    def __init__(
        self,
        database: Database,
        pages: Pages,
        secret: bytes,
        provider: Provider,
        roles: StaffRoles,
    ) -> None:
        self.database, self.pages, self.roles, self.provider = database, pages, roles, provider
        self.signer = URLSafeTimedSerializer(secret, salt="staff-session")
        self.oauth = OAuth()
        self.oauth.register(
            name="staff",
            server_metadata_url=f"{provider.issuer.rstrip('/')}/.well-known/openid-configuration",
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            client_kwargs={"scope": "openid profile", "code_challenge_method": "S256"},
        )

    def _session_id(self, request: Request) -> uuid.UUID | None:
        """The session this browser's cookie names, if the cookie is ours and recent."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            return uuid.UUID(str(self.signer.loads(cookie, max_age=int(SESSION.total_seconds()))))
        except (BadSignature, ValueError):
            return None

    async def signed_in(self, request: Request) -> Staff | None:
        session_id = self._session_id(request)
        if session_id is None:
            return None
        row = await self.database.pool.fetchrow(
            "SELECT person_id, name, roles, sites FROM staff_sessions WHERE session_id = $1"
            " AND ended_at IS NULL AND expires_at > now()",
            session_id,
        )
        if row is None:
            return None
        return Staff(
            row["person_id"], row["name"], frozenset(row["roles"]), frozenset(row["sites"])
        )

    async def who(self, request: Request, pages: Pages, door: StaffDoor) -> Staff | Response:
        """The person signed in, if her roles open this door; else the page to show instead:
        the way to sign in (401), or a plain refusal (403)."""
        staff = await self.signed_in(request)
        if staff is None:
            wanted = request.url.path if request.method == "GET" else door.path
            return pages.render(
                request, "staff_sign_in.html", 401, layout=door.layout, what=door.what,
                sign_in=f"{PATH}/sign-in?{urlencode({'next': wanted})}",
            )  # fmt: skip
        if door.role not in staff.roles or (door.role == "clinician" and staff.site is None):
            log.info("staff page refused", path=request.url.path, person_id=staff.person_id)
            return pages.render(
                request, "staff_refused.html", 403, layout=door.layout, what=door.what,
                door=door.path, staff=staff,
            )  # fmt: skip
        return staff

    async def acting(
        self, request: Request, pages: Pages, door: StaffDoor
    ) -> tuple[Staff, dict[str, list[str]]] | Response:
        """The person taking an action and her form's fields: signed in, her roles open the
        door, and the post is a good one (its CSRF token, its size); else the page to show."""
        staff = await self.who(request, pages, door)
        if not isinstance(staff, Staff):
            return staff
        fields, refused = await pages.accepted_post(request, None)
        if refused is not None:
            return refused
        assert fields is not None
        return staff, fields

    def add_sign_out(self, router: APIRouter, pages: Pages) -> None:
        """`POST <door>/sign-out` (with the door's CSRF token): ends the session here, then
        at the provider (its end-session endpoint), which sends her back signed out."""

        @router.post("/sign-out", response_class=HTMLResponse)
        async def sign_out(request: Request) -> Response:
            _fields, refused = await pages.accepted_post(request, None)
            if refused is not None:
                return refused
            id_token = await self._end(request)
            metadata = await self.oauth.create_client("staff").load_server_metadata()
            back = str(request.url_for("staff_signed_out"))
            ask = {"post_logout_redirect_uri": back, "client_id": self.provider.client_id}
            if id_token:
                ask["id_token_hint"] = id_token
            response = RedirectResponse(
                f"{metadata['end_session_endpoint']}?{urlencode(ask)}", status_code=303
            )
            response.delete_cookie(COOKIE, **_cookie(pages, request))
            return response

    def router(self) -> APIRouter:
        router = APIRouter(prefix=PATH, include_in_schema=False)

        @router.get("/sign-in")
        async def sign_in(request: Request, next: str = "/") -> Response:
            request.session["next"] = next if _local(next) else "/"
            callback = str(request.url_for("staff_callback"))
            client = self.oauth.create_client("staff")
            return await client.authorize_redirect(request, callback)  # type: ignore[no-any-return]

        @router.get("/callback", name="staff_callback", response_class=HTMLResponse)
        async def callback(request: Request) -> Response:
            client = self.oauth.create_client("staff")
            try:
                token = await client.authorize_access_token(request)
            except (AuthlibBaseError, JoseError) as refused:
                # A bad or replayed code, a missing or wrong state; an ID token whose signature,
                # issuer, audience, expiry or nonce does not hold.
                log.warning("staff sign-in refused", why=type(refused).__name__)
                return self.pages.render(request, "staff_sign_in_failed.html", 401)
            if not token.get("userinfo"):  # no ID token at all: nobody is signed in
                log.warning("staff sign-in refused", why="no ID token")
                return self.pages.render(request, "staff_sign_in_failed.html", 401)
            claims = dict(token["userinfo"])
            staff = self.roles.staff(claims)
            cookie = await self._begin(staff, claims, str(token["id_token"]))
            log.info("staff signed in", person_id=staff.person_id, roles=sorted(staff.roles))
            response = RedirectResponse(request.session.pop("next", "/"), status_code=303)
            response.set_cookie(
                COOKIE, cookie, max_age=int(SESSION.total_seconds()), **_cookie(self.pages, request)
            )
            return response

        @router.get("/signed-out", name="staff_signed_out", response_class=HTMLResponse)
        async def signed_out(request: Request) -> Response:
            return self.pages.render(request, "staff_signed_out.html")

        @router.post("/back-channel-logout", include_in_schema=False)
        async def back_channel_logout(request: Request) -> Response:
            """The provider's back-channel logout (OpenID Connect Back-Channel Logout 1.0): a
            logout token it signed, naming the provider session (`sid`) or the person (`sub`)
            whose sessions end here at once."""
            try:
                form = await read_form(request, 16 * 1024)
                token = (form.get("logout_token") or [""])[0]
                claims = await self._logout_claims(token)
            except (FormRefused, JoseError, ValueError) as bad:
                log.warning("back-channel logout refused", why=str(bad)[:200])
                return Response(status_code=400)
            ended = await self.database.pool.fetchval(
                "WITH ended AS (UPDATE staff_sessions SET ended_at = now()"
                " WHERE ended_at IS NULL AND (provider_sid = $1 OR ($1 IS NULL AND person_id = $2))"
                " RETURNING 1) SELECT count(*) FROM ended",
                claims.get("sid"),
                claims.get("sub"),
            )
            log.info("staff signed out by the provider", sessions=ended)
            return Response(status_code=200, headers={"Cache-Control": "no-store"})

        return router

    async def _logout_claims(self, token: str) -> dict[str, Any]:
        """A logout token's claims, once its signature (the provider's published keys),
        issuer, audience, age and event hold; raises JoseError or ValueError otherwise."""
        client = self.oauth.create_client("staff")
        metadata = await client.load_server_metadata()
        keys = KeySet.import_key_set(await client.fetch_jwk_set())
        decoded = jwt.decode(token, keys)
        claims = dict(decoded.claims)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        now = datetime.now(UTC).timestamp()
        if claims.get("iss") != metadata["issuer"]:
            raise ValueError("another issuer")
        if self.provider.client_id not in audiences:
            raise ValueError("another audience")
        if not isinstance(claims.get("iat"), int | float) or abs(now - claims["iat"]) > 300:
            raise ValueError("too old, or from the future")
        if LOGOUT_EVENT not in (claims.get("events") or {}):
            raise ValueError("not a logout token")
        if "nonce" in claims or not (claims.get("sid") or claims.get("sub")):
            raise ValueError("a logout token names a session or a person, and has no nonce")
        return claims

    async def _begin(self, staff: Staff, claims: dict[str, object], id_token: str) -> str:
        session_id, now = uuid.uuid4(), datetime.now(UTC)
        async with self.database.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO staff_sessions (session_id, person_id, name, roles, sites,"
                " provider_sid, id_token, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                session_id, staff.person_id, staff.name, sorted(staff.roles),
                sorted(staff.sites), claims.get("sid"), id_token, now, now + SESSION,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO staff (person_id, name, last_seen) VALUES ($1, $2, $3)"
                " ON CONFLICT (person_id) DO UPDATE SET name = $2, last_seen = $3",
                staff.person_id, staff.name, now,
            )  # fmt: skip
        return str(self.signer.dumps(str(session_id)))

    async def _end(self, request: Request) -> str | None:
        """End this browser's session; its ID token, for the provider's logout."""
        session_id = self._session_id(request)
        if session_id is None:
            return None
        token = await self.database.pool.fetchval(
            "UPDATE staff_sessions SET ended_at = now() WHERE session_id = $1"
            " AND ended_at IS NULL RETURNING id_token",
            session_id,
        )
        return str(token) if token else None


def _cookie(pages: Pages, request: Request) -> dict[str, Any]:
    """The staff session's cookie: for every staff page (path /), HttpOnly, Secure over TLS;
    Lax, not Strict, since the redirect chain back from the provider is cross-site and a
    Strict cookie would not reach the page she asked for. Each action needs its CSRF token."""
    return {**pages.cookie_options(request), "path": "/", "samesite": "lax"}


def _local(path: str) -> bool:
    """A path on this site only: no scheme, no host, and no `//` or `/\\` that a browser
    would read as another host (an open redirect)."""
    return path.startswith("/") and not path.startswith(("//", "/\\")) and "\\" not in path
