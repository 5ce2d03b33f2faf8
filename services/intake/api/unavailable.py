"""What a caller is told when PostgreSQL or Kafka cannot take a request: `503` with
`Retry-After` (a client can tell that from a bug), or a kind page on the form. A fault that
is not transient stays a `500`, as a problem document rather than plain text (on the FHIR
routes, as an OperationOutcome with BaRS's code)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from intake.api.html_pages import TEMPLATES
from intake.api.operation_outcomes import FHIR_BASE, problem_as_outcome
from intake.api.problems import Problem, problem_response
from shared.logging import get_logger
from shared.poison import is_transient

log = get_logger(__name__)
RETRY_AFTER_SECONDS = 30


async def on_unexpected(request: Request, error: Exception) -> Response:
    path = request.url.path
    if not is_transient(error):
        log.error("request failed", path=path, fault=type(error).__name__)
        return _answer(path, Problem(500, "Something went wrong on our side."))
    log.warning("request refused while a server is away", path=path, fault=type(error).__name__)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if path.startswith("/self-referral"):
        return TEMPLATES.TemplateResponse(
            request,
            "notice.html",
            {
                "title": "Sorry, we could not send your request",
                "message": "Nothing was sent. Please try again in a few minutes.",
            },
            status_code=503,
            headers=headers,
        )
    return _answer(
        path,
        Problem(503, "We cannot take this request just now; please try again.", headers=headers),
    )


def _answer(path: str, problem: Problem) -> Response:
    return problem_as_outcome(problem) if path.startswith(FHIR_BASE) else problem_response(problem)
