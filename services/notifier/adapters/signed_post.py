"""One signed HTTPS POST, as clinic webhooks and BaRS senders' endpoints receive them:
`X-Signature: v1=<hex>` of HMAC-SHA256(receiver's secret, "<timestamp>.<body>") with
`X-Signature-Timestamp`, so that a receiver knows it is ours and fresh. Each receiver's secret
derives from the notifier's master secret and a label naming the receiver, so that one secret
leaking exposes one receiver."""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp

from notifier.adapters.failures import classify_status


def receiver_secret(master: bytes, label: str) -> bytes:
    return hmac.new(master, label.encode(), hashlib.sha256).hexdigest().encode()


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    secret: bytes,
    headers: dict[str, str],
    refused: str,
) -> None:
    """Raises a transient or permanent failure (`failures.classify_status`) unless 2xx."""
    timestamp = str(int(time.time()))
    signed = {
        **headers,
        "X-Signature-Timestamp": timestamp,
        "X-Signature": signature(secret, timestamp, body),
    }
    try:
        async with session.post(url, data=body, headers=signed) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        raise classify_status(None, type(error).__name__) from error
    if status >= 300:
        raise classify_status(status, refused)
