"""What every page for the public has in common: rendered with a fresh CSRF token (cookie
HttpOnly, SameSite=Strict, Secure over TLS), never cached, and a post checked in the order
that keeps junk from locking real users out: size and type, then CSRF and Origin, and only
then the per-client rate limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from limits import RateLimitItem

from intake.web.csrf import COOKIE, FIELD, CsrfTokens
from intake.web.form_body import FormRefused, read_form
from shared.logging import get_logger
from shared.rate_limits import RateLimits

log = get_logger(__name__)

SHARED_TEMPLATES = Path(__file__).parent / "templates"  # base.html and notice.html
STATIC = Path(__file__).parent / "static"


def templates(*folders: Path) -> Jinja2Templates:
    """A door's own templates, then the shared ones they extend."""
    loader = ChoiceLoader([FileSystemLoader(f) for f in (*folders, SHARED_TEMPLATES)])
    return Jinja2Templates(env=Environment(loader=loader, autoescape=select_autoescape()))


def anchor(field: str) -> str:
    """The id of a field's element (and of its error message), from its dotted path."""
    return field.replace(".", "-")


SHARED = templates()


class Pages:
    def __init__(
        self,
        csrf_secret: bytes,
        rate_limits: RateLimits,
        rate_limit: RateLimitItem,
        max_form_bytes: int,
        *,
        path: str,
        folder: Path,
    ) -> None:
        self.tokens = CsrfTokens(csrf_secret)
        self.rate_limits, self.rate_limit = rate_limits, rate_limit
        self.max_form_bytes, self.path = max_form_bytes, path
        self.templates = templates(folder)

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        cookie, token = self.tokens.issue(request.cookies.get(COOKIE))
        response = self.templates.TemplateResponse(
            request,
            template,
            {"csrf_token": token, "anchor": anchor, **context},
            status_code=status,
        )
        response.set_cookie(COOKIE, cookie, **self.cookie_options(request))
        response.headers["Cache-Control"] = "no-store"  # her answers never sit in a cache
        return response

    def notice(
        self,
        request: Request,
        status: int,
        title: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        response = self.render(request, "notice.html", status, title=title, message=message)
        response.headers.update(headers or {})
        return response

    def not_found(self, request: Request) -> Response:
        return self.notice(request, 404, "Page not found", "We could not find this page.")

    def cookie_options(self, request: Request) -> dict[str, Any]:
        """HttpOnly, SameSite=Strict, Secure where served over TLS, for this set of pages."""
        return {
            "httponly": True,
            "samesite": "strict",
            "secure": request.url.scheme == "https",
            "path": self.path,
        }

    async def accepted_post(
        self, request: Request, bucket: str | None
    ) -> tuple[dict[str, list[str]], None] | tuple[None, Response]:
        """The post's fields, or the page that refuses it (too large, not a form, a stale or
        forged token, another site's, too many from this client: counted in `bucket`, or not
        at all when it is None)."""
        try:
            fields = await read_form(request, self.max_form_bytes)
        except FormRefused as refused:
            log.info("form refused", bucket=bucket, why=refused.status)
            return None, self.notice(request, refused.status, refused.title, refused.message)
        if not same_origin(request) or not self.tokens.valid(
            request.cookies.get(COOKIE), first(fields, FIELD)
        ):
            return None, self.notice(
                request,
                403,
                "Please try again",
                "For your security this form timed out. Please go back, "
                "reload the page and send it again.",
            )
        if bucket is None:
            return fields, None
        client = request.client.host if request.client else "unknown"
        wait = await self.rate_limits.hit(bucket, client, self.rate_limit)
        if wait is not None:
            log.warning("form rate limited", bucket=bucket)
            return None, self.notice(
                request,
                429,
                "Please wait a moment",
                "We have had several forms from this device in a short time. "
                "Please wait a few minutes and try again.",
                headers={"Retry-After": str(wait)},
            )
        return fields, None


def same_origin(request: Request) -> bool:
    """A browser names the page a post came from; one from another site is refused (the
    CSRF token is the main guard, this a second one)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # older browsers, and tools that send no Origin
    return urlsplit(origin).netloc == request.headers.get("host", "")


def first(fields: dict[str, list[str]], name: str) -> str:
    found = fields.get(name)
    return found[0] if found else ""
