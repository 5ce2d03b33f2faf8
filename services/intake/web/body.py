"""Read a request body up to a limit, so an oversized one is refused before it is buffered;
and read JSON strictly: the declared type, no repeated keys, no NaN."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from fastapi import Request

from intake.web.problems import Problem


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> Problem:
    return Problem(413, f"The request body is larger than {limit} bytes.")


def require_media_type(request: Request, *wanted: str) -> None:
    """415 unless the body is declared as one of `wanted` (parameters such as charset aside)."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared not in wanted:
        raise Problem(415, f"Send the body as {' or '.join(wanted)}.")


async def read_json(request: Request, limit: int, *media_types: str) -> Any:
    """The body as JSON, declared as such (`application/json` unless `media_types` says).
    A key given twice is refused rather than letting the last one silently win (two systems
    could read the same body differently)."""
    require_media_type(request, *(media_types or ("application/json",)))
    body = await read_limited(request, limit)
    if nesting(body) > MAX_DEPTH:
        message = f"The JSON is nested more than {MAX_DEPTH} deep."
        raise Problem(422, "The body is not valid.", [{"field": "body", "message": message}])
    try:
        return json.loads(body, object_pairs_hook=_no_repeated_keys, parse_constant=_no_constant)
    except _Refused as error:
        errors = [{"field": "body", "message": str(error)}]
        raise Problem(422, "The body is not valid.", errors) from error
    except (ValueError, UnicodeDecodeError) as error:
        message = "The body is not valid JSON."
        raise Problem(422, message, [{"field": "body", "message": message}]) from error


# Deeper than any referral or BaRS message (a Bundle's extensions reach about 12); the parsers
# recurse, so a body nested a thousand deep would exhaust the stack, not fail validation.
MAX_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def nesting(body: bytes) -> int:
    """How deep the body's arrays and objects nest, counted without parsing it (brackets
    inside strings are text). Hand-written: the standard library's parser has no depth limit."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


class _Refused(ValueError):
    pass


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused("A key is given twice in one object.")
        found[key] = value
    return found


def _no_constant(_name: str) -> Any:
    raise _Refused("NaN and Infinity are not JSON numbers.")
