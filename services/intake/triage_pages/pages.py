"""The triage pages: the same sign-in (each person as herself, with the triage role), CSRF
and refusal rules as the clinic's, and the same use case as any other door would use
(`service_layer.resolve_at_triage`). Who decided is her pseudonymous id on the topics, and
her name in the referral's history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import service_layer, views
from intake.domain.lifecycle import IllegalTransition, State
from intake.domain.staff import Staff
from intake.ports import UnitOfWork
from intake.service_layer import NotFound, Resolution, UnknownReason
from intake.views import Viewer
from intake.web.pages import Pages, first
from intake.web.staff_sign_in import StaffDoor, StaffSessions
from shared.contracts import ServiceCode
from shared.database import Database
from shared.directory import Directory
from shared.logging import get_logger

log = get_logger(__name__)

DOOR = StaffDoor("/triage", "triage_base.html", "the triage list", "triage")
PAGE_SIZE = 25
RETURN = "return"  # the choice that returns it to the referrer, beside each site's id


def triage_pages(
    pages: Pages,
    database: Database,
    unit_of_work: UnitOfWork,
    directory: Directory,
    sessions: StaffSessions,
) -> APIRouter:
    router = APIRouter(prefix="/triage", include_in_schema=False)
    sessions.add_sign_out(router, pages)

    @router.get("", response_class=HTMLResponse)
    async def worklist(request: Request, after: str | None = None, done: str = "") -> Response:
        staff = await sessions.who(request, pages, DOOR)
        if not isinstance(staff, Staff):
            return staff
        try:
            cursor = views.parse_cursor(after)
        except ValueError:  # a mangled cursor shows the first page
            cursor = None
        page = await views.worklist(
            database, Viewer.triage_team(), State.NEEDS_TRIAGE, PAGE_SIZE, cursor
        )
        names = {code: service.name for code, service in directory.services.items()}
        return pages.render(
            request,
            "triage_worklist.html",
            staff=staff,
            referrals=page.referrals,
            following=page.next,
            services=names,
            done=done == "resolved",
        )

    @router.get("/referrals/{referral_id}", response_class=HTMLResponse)
    async def referral(request: Request, referral_id: UUID) -> Response:
        staff = await sessions.who(request, pages, DOOR)
        if not isinstance(staff, Staff):
            return staff
        shown = await _details(referral_id)
        if shown is None:
            return _gone(request)
        log.info("referral read at triage", referral_id=str(referral_id), person_id=staff.person_id)
        return pages.render(request, "triage_referral.html", **shown)

    @router.post("/referrals/{referral_id}/resolve", response_class=HTMLResponse)
    async def resolve(request: Request, referral_id: UUID) -> Response:
        acting = await sessions.acting(request, pages, DOOR)
        if not isinstance(acting, tuple):
            return acting
        staff, fields = acting
        typed = {name: given[0] for name, given in fields.items() if given}
        choice = first(fields, "route_to")
        resolution = Resolution(
            route_to=None if choice in ("", RETURN) else choice,
            reason=first(fields, "reason")[:2000],
            signposting=tuple(first(fields, "signposting")[:2000].splitlines()),
        )
        try:
            if not choice:
                raise UnknownReason("Choose a site, or return it to the referrer", "route_to")
            await service_layer.resolve_at_triage(
                unit_of_work, directory, referral_id, resolution, decided_by=staff.person_id
            )
        except (NotFound, IllegalTransition):
            return _gone(request)
        except UnknownReason as wrong:
            shown = await _details(referral_id)
            if shown is None:
                return _gone(request)
            words = str(wrong) if wrong.field == "route_to" else "Enter why"
            shown |= {"error": words, "error_field": wrong.field, "values": typed}
            return pages.render(request, "triage_referral.html", 422, **shown)
        return RedirectResponse("/triage?done=resolved", status_code=303)

    async def _details(referral_id: UUID) -> dict[str, Any] | None:
        found = await views.referral(
            database, referral_id, Viewer.triage_team(), directory, with_submission=True
        )
        if found is None:
            return None
        service = directory.services[ServiceCode(found.service)]
        return {
            "referral": found,
            "submission": found.submission or {},
            "service_name": service.name,
            "sites": {site.id: site.name for site in service.sites},
            "return_choice": RETURN,
            "error": None,
            "error_field": None,
            "values": {},
        }

    def _gone(request: Request) -> Response:
        return pages.notice(
            request,
            404,
            "Not awaiting triage",
            "This referral is not waiting for triage: someone may have decided it already, "
            "or it was cancelled.",
        )

    return router
