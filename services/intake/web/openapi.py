"""Intake's OpenAPI document, finished so that a supplier can generate a client from it:
bodies the routes read themselves (strictly, under a size and depth bound) are declared as
models under `components/schemas`; every refusal is described as what it is (a problem
document on `/v1`, an OperationOutcome on `/FHIR/R4`); reason codes are the directory's.

FastAPI describes only what it parses itself, so the routes name their body with `body(...)`
and `finish` puts the models in the document."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from intake.web.problems import PROBLEM_JSON, ProblemDetails
from shared.directory import Directory

COMPONENTS = "#/components/schemas/"
_DECLARED: dict[str, type[BaseModel]] = {}  # models named by reference, for `finish` to add
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")  # a shape we never answer


def ref(model: type[BaseModel]) -> dict[str, str]:
    _DECLARED[model.__name__] = model
    return {"$ref": COMPONENTS + model.__name__}


def body(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body itself: the model, by reference."""
    return {"requestBody": {"required": True, "content": {media_type: {"schema": ref(model)}}}}


def answer(
    model: type[BaseModel], description: str, media_type: str = "application/json"
) -> dict[int | str, dict[str, Any]]:
    """`responses` for a route that builds its own answer: the model, by reference."""
    return {200: {"description": description, "content": {media_type: {"schema": ref(model)}}}}


# How each door's refusals are documented: (path prefix, media type, model). A path no door
# names refuses with a problem document.
Refusal = tuple[str, str, type[BaseModel]]


def install(app: FastAPI, directory: Directory, refusals: Iterable[Refusal] = ()) -> None:
    """Serve the finished document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = finish(document, directory, list(refusals))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(
    document: dict[str, Any], directory: Directory, refusals: list[Refusal]
) -> dict[str, Any]:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    declared: list[type[BaseModel]] = [
        ProblemDetails,
        *(model for _, _, model in refusals),
        *_DECLARED.values(),
    ]
    _, found = models_json_schema(
        [(m, "validation") for m in dict.fromkeys(declared)],
        ref_template=COMPONENTS + "{model}",
    )
    for name, schema in found.get("$defs", {}).items():
        if schemas.setdefault(name, schema) != schema:  # one name for one thing
            raise ValueError(f"two different models are named {name}")
    for path, item in document["paths"].items():
        media_type, model = next(
            ((m, model) for prefix, m, model in refusals if path.startswith(prefix)),
            (PROBLEM_JSON, ProblemDetails),
        )
        refusal = {media_type: {"schema": ref(model)}}
        for operation in item.values():
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    answer["content"] = refusal
    for name in _FASTAPI_ERRORS:
        schemas.pop(name, None)
    _enumerate(schemas, "ReturnRequest", sorted(directory.return_reasons))
    _enumerate(schemas, "CancelRequest", sorted(directory.cancel_reasons))
    return document


def _enumerate(schemas: dict[str, Any], model: str, codes: list[str]) -> None:
    """The directory's codes as the field's enum (the operator's list, as this server has it)."""
    if model in schemas:
        schemas[model]["properties"]["reason_code"]["enum"] = codes
