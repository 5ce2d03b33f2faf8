"""Refusals on the FHIR routes, as BaRS answers them: an OperationOutcome whose issues carry
the BaRS error code (system `https://fhir.nhs.uk/Codesystem/http-error-codes`), the FHIR
issue type and the failing element's FHIRPath."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi.responses import JSONResponse

from intake.bars.refusals import Issue, IssueType, Refused
from intake.web.problems import Problem

FHIR_JSON = "application/fhir+json"
FHIR_BASE = "/FHIR/R4"
ERROR_CODES = "https://fhir.nhs.uk/Codesystem/http-error-codes"
_PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"

_TYPES: dict[int, IssueType] = {
    401: "login",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
    500: "exception",
    503: "transient",
}


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid4()),
        "meta": {"profile": [_PROFILE]},
        "issue": [
            {
                "severity": "error",
                "code": issue.type,
                "details": {
                    "coding": [
                        {"system": ERROR_CODES, "code": issue.bars_code, "display": issue.bars_code}
                    ]
                },
                "diagnostics": issue.diagnostics,
                **({"expression": [issue.expression]} if issue.expression else {}),
            }
            for issue in issues
        ],
    }


def refused_response(refused: Refused, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        operation_outcome(refused.issues),
        status_code=refused.status,
        media_type=FHIR_JSON,
        headers=headers,
    )


def problem_as_outcome(problem: Problem) -> JSONResponse:
    """The JSON API's refusals (a wrong key, a body too large, too many tries) on a FHIR
    route: the same status and headers, as an OperationOutcome."""
    status = 400 if problem.status == 422 else problem.status
    issues = [
        Issue(status, _TYPES.get(status, "invalid"), e["message"], e.get("field"))
        for e in problem.errors or []
    ] or [Issue(status, _TYPES.get(status, "invalid"), problem.title)]
    return refused_response(Refused(issues), problem.headers)
