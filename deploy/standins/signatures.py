"""How a receiver checks our signed deliveries (clinic webhooks, BaRS messages): the
HMAC-SHA256 of "<X-Signature-Timestamp>.<raw body>" with its own secret, compared in constant
time with `X-Signature` after `v1=`, and a timestamp within 5 minutes of its clock."""

from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import HTTPException

TOLERANCE_SECONDS = 300


def own_secret(master_secret: bytes, label: str) -> bytes:
    """The receiver's secret, as the notifier derives it (`clinic:<site>`, `bars:<url>`)."""
    return hmac.new(master_secret, label.encode(), hashlib.sha256).hexdigest().encode()


def verify(secret: bytes, signature: str, timestamp: str, body: bytes) -> None:
    """Raises 401 unless the delivery is ours and fresh."""
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.removeprefix("v1="), expected):
        raise HTTPException(401, "bad signature")
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        raise HTTPException(401, "stale timestamp")
