"""The clinic's worklist as web pages, for the people in the clinic: plain HTML, no
JavaScript. A site signs in with its key, exchanged for a session cookie (signed, HttpOnly,
SameSite=Strict, Secure over TLS, 8 hours; the key is checked again on every page, so a
revoked key ends its sessions). Every action carries a CSRF token, and goes through the same
use cases and rules as the API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from intake import service_layer, views
from intake.adapters import api_keys
from intake.adapters.api_keys import ApiKey
from intake.domain.lifecycle import Accept, IllegalTransition, Return
from intake.ports import UnitOfWork
from intake.service_layer import Actor, NotFound, UnknownReason
from intake.views import Viewer
from intake.web.pages import Pages, first
from shared.contracts import ReferralState
from shared.database import Database
from shared.directory import Directory
from shared.logging import get_logger

log = get_logger(__name__)

SESSION = "whr_clinic"
SESSION_SECONDS = 8 * 60 * 60
PAGE_SIZE = 25
_DONE = {
    "accepted": "Referral accepted. Please contact her to arrange her first appointment.",
    "returned": "Referral returned.",
}


def clinic_pages(
    pages: Pages,
    database: Database,
    unit_of_work: UnitOfWork,
    directory: Directory,
    session_secret: bytes,
) -> APIRouter:
    router = APIRouter(prefix="/clinic", include_in_schema=False)
    sessions = URLSafeTimedSerializer(session_secret, salt="clinic-session")

    async def signed_in(request: Request) -> ApiKey | None:
        cookie = request.cookies.get(SESSION)
        if not cookie:
            return None
        try:
            key_id = sessions.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        async with database.pool.acquire() as conn:
            key = await api_keys.still_valid(conn, str(key_id))
        return key if key is not None and key.scope == "clinic" else None

    def sign_in_page(request: Request, status: int = 200, error: str | None = None) -> Response:
        return pages.render(request, "clinic_sign_in.html", status, error=error)

    @router.get("", response_class=HTMLResponse)
    async def worklist(
        request: Request, state: str = "routed", after: str | None = None, done: str = ""
    ) -> Response:
        key = await signed_in(request)
        if key is None:
            return sign_in_page(request)
        shown = ReferralState.ACCEPTED if state == "accepted" else ReferralState.ROUTED
        cursor = _cursor(after)
        page = await views.worklist(database, key.organisation_code, shown, PAGE_SIZE, cursor)
        return pages.render(
            request,
            "clinic_worklist.html",
            site=key.organisation_code,
            state=shown.value,
            referrals=page.referrals,
            following=page.next,
            done=_DONE.get(done),
        )

    @router.post("/sign-in", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        fields, refused = await pages.accepted_post(request, "clinic-sign-in")
        if refused is not None:
            return refused
        assert fields is not None
        async with database.pool.acquire() as conn:
            key = await api_keys.authenticate(conn, first(fields, "key").strip())
        if key is None or key.scope != "clinic":
            log.info("clinic sign-in refused")
            return sign_in_page(request, 401, "That key is not a clinic's key, or not valid.")
        log.info("clinic signed in", key_id=key.key_id, site=key.organisation_code)
        response = RedirectResponse("/clinic", status_code=303)
        response.set_cookie(
            SESSION,
            str(sessions.dumps(key.key_id)),
            max_age=SESSION_SECONDS,
            **pages.cookie_options(request),
        )
        return response

    @router.post("/sign-out", response_class=HTMLResponse)
    async def sign_out(request: Request) -> Response:
        _fields, refused = await pages.accepted_post(request, None)
        if refused is not None:
            return refused
        response = RedirectResponse("/clinic", status_code=303)
        response.delete_cookie(SESSION, **pages.cookie_options(request))
        return response

    @router.get("/referrals/{referral_id}", response_class=HTMLResponse)
    async def referral(request: Request, referral_id: UUID) -> Response:
        key = await signed_in(request)
        if key is None:
            return sign_in_page(request, 401)
        shown = await _details(key, referral_id)
        if shown is None:
            return _not_ours(request)
        log.info("referral read by clinic", referral_id=str(referral_id), key_id=key.key_id)
        return pages.render(request, "clinic_referral.html", error=None, **shown)

    @router.post("/referrals/{referral_id}/{action}", response_class=HTMLResponse)
    async def act(request: Request, referral_id: UUID, action: str) -> Response:
        key = await signed_in(request)
        if key is None:
            return sign_in_page(request, 401)
        fields, refused = await pages.accepted_post(request, None)
        if refused is not None:
            return refused
        assert fields is not None
        actor = Actor("clinic", key.organisation_code)
        site = key.organisation_code
        command: Accept | Return
        if action == "accept":
            command, code = Accept(site), None
        elif action == "return":
            command, code = Return(site, "referrer"), first(fields, "reason_code")
        else:
            return pages.not_found(request)
        try:
            await service_layer.act(
                unit_of_work, referral_id, command, actor, directory, reason_code=code
            )
        except NotFound:
            return _not_ours(request)
        except (UnknownReason, IllegalTransition) as refused_action:
            shown = await _details(key, referral_id)
            if shown is None:
                return _not_ours(request)
            why = (
                "Choose a reason for returning it."
                if isinstance(refused_action, UnknownReason)
                else f"This referral is now {refused_action.current.value}: it cannot be "
                f"{action}ed."
            )
            return pages.render(request, "clinic_referral.html", 409, error=why, **shown)
        return RedirectResponse(f"/clinic?done={action}ed", status_code=303)

    async def _details(key: ApiKey, referral_id: UUID) -> dict[str, Any] | None:
        found = await views.referral(
            database,
            referral_id,
            Viewer.clinic(key.organisation_code),
            directory,
            with_submission=True,
        )
        if found is None:
            return None
        return {
            "referral": found,
            "submission": found.submission or {},
            "history": found.history,
            "reasons": directory.return_reasons,
            "site": key.organisation_code,
        }

    def _not_ours(request: Request) -> Response:
        return pages.render(request, "clinic_not_found.html", 404)

    return router


def _cursor(after: str | None) -> views.Cursor | None:
    try:
        return views.parse_cursor(after)
    except ValueError:  # a mangled cursor shows the first page
        return None
