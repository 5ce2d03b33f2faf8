"""Which door answers a refusal. A route raises `Problem` (FastAPI raises a validation error
for a malformed path or query; anything else may fail); the door whose path it is renders
it: a problem document on `/v1`, an OperationOutcome on `/FHIR/R4`, a page on the pages.
A transient fault (PostgreSQL or Kafka away) is a 503 with Retry-After, so a client can tell
it from a bug; any other is a 500 that names nothing of the request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from intake.web.pages import SHARED
from intake.web.problems import Problem, problem_response
from shared.logging import get_logger
from shared.poison import is_transient

log = get_logger(__name__)
RETRY_AFTER_SECONDS = 30

Render = Callable[[Request, Problem], Response]

# What a person is told on a page, by status; other refusals show the problem's own title.
_NOT_FOUND = ("Page not found", "We could not find this page.")
_PAGE_WORDS = {
    404: _NOT_FOUND,
    405: _NOT_FOUND,
    422: _NOT_FOUND,  # a malformed address (say, a referral id that is not one)
    500: ("Sorry, there is a problem with the service", "Please try again later."),
    503: (
        "Sorry, we could not send your request",
        "Nothing was sent. Please try again in a few minutes.",
    ),
}


def as_json(_request: Request, problem: Problem) -> Response:
    return problem_response(problem)


def as_page(request: Request, problem: Problem) -> Response:
    title, message = _PAGE_WORDS.get(problem.status, (problem.title, ""))
    return SHARED.TemplateResponse(
        request,
        "notice.html",
        {"title": title, "message": message},
        status_code=problem.status,
        headers={**(problem.headers or {}), "Cache-Control": "no-store"},
    )


class Refusals:
    """The doors' renderers by path prefix; a path no door claims is answered as JSON."""

    def __init__(self, doors: Mapping[str, Render]) -> None:
        self.doors = dict(doors)

    def answer(self, request: Request, problem: Problem) -> Response:
        path = request.url.path
        render = next((r for p, r in self.doors.items() if path.startswith(p)), as_json)
        return render(request, problem)

    def install(self, app: FastAPI) -> None:
        async def on_problem(request: Request, problem: Exception) -> Response:
            assert isinstance(problem, Problem)
            return self.answer(request, problem)

        async def on_invalid(request: Request, error: Exception) -> Response:
            assert isinstance(error, RequestValidationError)
            # FastAPI's own answer quotes the input back; ours names the fields only.
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": _plain(e)}
                for e in error.errors()
            ]
            return self.answer(request, Problem(422, "The request is not valid.", errors))

        async def on_unexpected(request: Request, error: Exception) -> Response:
            path, fault = request.url.path, type(error).__name__
            if not is_transient(error):
                log.error("request failed", path=path, fault=fault)
                return self.answer(request, Problem(500, "Something went wrong on our side."))
            log.warning("request refused while a server is away", path=path, fault=fault)
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
            return self.answer(
                request,
                Problem(
                    503, "We cannot take this request just now; please try again.", None, headers
                ),
            )

        async def on_http(request: Request, error: Exception) -> Response:
            assert isinstance(error, StarletteHTTPException)  # no route, or not this method
            title = "Not found." if error.status_code == 404 else str(error.detail)
            problem = Problem(error.status_code, title)
            problem.headers = dict(error.headers or {}) or None
            return self.answer(request, problem)

        app.add_exception_handler(Problem, on_problem)
        app.add_exception_handler(StarletteHTTPException, on_http)
        app.add_exception_handler(RequestValidationError, on_invalid)
        app.add_exception_handler(Exception, on_unexpected)


def _plain(error: Any) -> str:
    """Pydantic's message, except where it would quote the input (a malformed UUID's
    message names its first wrong character)."""
    if str(error["type"]).startswith("uuid_"):
        return "Not a UUID."
    return str(error["msg"])
