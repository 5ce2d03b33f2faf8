"""A BaRS sender's own `$process-message`: a FHIR message POSTed as `application/fhir+json`,
signed as clinic webhooks are (`X-Signature: v1=<hex>` of HMAC-SHA256 over
"<X-Signature-Timestamp>.<body>"), with a secret per registered endpoint derived from the
notifier's master secret (`python -m notifier bars-secret URL` prints it).

`X-Request-Id` and `X-Delivery-Id` are the delivery's reference and the MessageHeader's id
derives from it, so a resend after a crash is the same message, which the receiver ignores
as already processed; `X-Correlation-Id` is the referral's."""

from __future__ import annotations

import json

from notifier.adapters.http_session import LazySession
from notifier.adapters.signed_post import post_signed, receiver_secret
from notifier.domain.plan import Message


def endpoint_secret(master: bytes, url: str) -> bytes:
    return receiver_secret(master, f"bars:{url}")


class BarsProvider:
    def __init__(self, master_secret: bytes, *, per_endpoint: int = 4) -> None:
        self._master = master_secret
        self._session = LazySession(timeout=10, connections=64, per_host=per_endpoint)

    async def send(
        self, message: Message, reference: str, bundle: dict[str, object], correlation_id: str
    ) -> str:
        headers = {
            "Content-Type": "application/fhir+json",
            "X-Delivery-Id": reference,
            "X-Request-Id": reference,
            "X-Correlation-Id": correlation_id,
        }
        await post_signed(
            self._session.get(),
            message.to,
            json.dumps(bundle, separators=(",", ":")).encode(),
            endpoint_secret(self._master, message.to),
            headers,
            "BaRS endpoint refused",
        )
        return reference

    async def close(self) -> None:
        await self._session.close()
