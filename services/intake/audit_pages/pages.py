"""The audit page: the audit trail, read only, for people with the audit role (signed in as
themselves, like every staff page). It shows who acted, never a patient's details."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from intake import views
from intake.domain.staff import Staff
from intake.web.pages import Pages
from intake.web.staff_sign_in import StaffDoor, StaffSessions
from shared.database import Database
from shared.logging import get_logger

log = get_logger(__name__)

DOOR = StaffDoor("/audit", "audit_base.html", "the audit trail", "audit")


def audit_pages(pages: Pages, database: Database, sessions: StaffSessions) -> APIRouter:
    router = APIRouter(prefix="/audit", include_in_schema=False)
    sessions.add_sign_out(router, pages)

    @router.get("", response_class=HTMLResponse)
    async def trail(request: Request, reference: str = "") -> Response:
        staff = await sessions.who(request, pages, DOOR)
        if not isinstance(staff, Staff):
            return staff
        wanted = reference.strip()[:100] or None
        async with database.pool.acquire() as conn:
            found = await views.audit_trail(conn, wanted)
        log.info("audit trail read", person_id=staff.person_id, filtered=wanted is not None)
        return pages.render(
            request, "audit_trail.html", staff=staff, actions=list(reversed(found)),
            reference=wanted or "",
        )  # fmt: skip

    return router
