"""What every `/v1` request may carry beside its body: an Idempotency-Key (checked, and paired
with a fingerprint of the request), an X-Correlation-Id (kept when well-formed)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid

from pydantic import BaseModel

from intake.web.problems import Problem

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def checked_idempotency_key(value: str | None) -> str | None:
    if value is not None and not _IDEMPOTENCY_KEY.match(value):
        raise Problem(
            422,
            "The request is not valid.",
            [
                {
                    "field": "Idempotency-Key",
                    "message": "Use 1 to 200 letters, digits and the characters _ . : -",
                }
            ],
        )
    return value


def fingerprint(*parts: BaseModel | str) -> bytes:
    """The same request however its JSON was spaced or ordered. (One part is hashed alone,
    as submissions always were, so that keys stored before stay valid.)"""
    dumped = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    canonical = json.dumps(dumped[0] if len(dumped) == 1 else dumped, sort_keys=True)
    return hashlib.sha256(canonical.encode()).digest()


def correlation_id(supplied: str | None) -> str:
    if supplied and _CORRELATION_ID.match(supplied):
        return supplied
    return str(uuid.uuid4())
