"""Clinic webhooks: HTTPS POST, signed with HMAC-SHA256 over the timestamp and the body.

Headers: `X-Signature-Timestamp` (Unix seconds), `X-Signature: v1=<hex>` where the hex is
HMAC-SHA256(clinic secret, "<timestamp>.<body>"), and `X-Delivery-Id` (stable per message).
A clinic verifies the signature, refuses a timestamp more than 5 minutes away from its clock,
and ignores a delivery id it has seen (a retry after a crash repeats it): replay-safe.
Each clinic's secret is derived from the notifier's master secret and the site id, so one
secret leaking exposes one clinic (`python -m notifier webhook-secret SITE` prints it).
"""

from __future__ import annotations

import json

from notifier.adapters.http_session import LazySession
from notifier.adapters.signed_post import post_signed, receiver_secret
from notifier.domain.plan import Message


def clinic_secret(master: bytes, site_id: str) -> bytes:
    return receiver_secret(master, f"clinic:{site_id}")


class WebhookProvider:
    def __init__(
        self,
        master_secret: bytes,
        url_for: dict[str, str],
        url_template: str,
        *,
        per_clinic: int = 4,
    ) -> None:
        self._master = master_secret
        self._url_for = url_for
        self._url_template = url_template
        self._clinics: dict[str, tuple[str, bytes]] = {}  # site id: its URL and secret
        # A clinic's endpoint is not built for our bursts: a few deliveries at a time each.
        self._session = LazySession(timeout=10, connections=64, per_host=per_clinic)

    def _clinic(self, site_id: str) -> tuple[str, bytes]:
        """A clinic's URL (the directory's, else the template's) and signing secret, derived
        once per clinic, not once per message."""
        if site_id not in self._clinics:
            url = self._url_for.get(site_id) or self._url_template.format(site=site_id)
            self._clinics[site_id] = (url, clinic_secret(self._master, site_id))
        return self._clinics[site_id]

    async def send(self, message: Message, reference: str, payload: dict[str, object]) -> str:
        url, secret = self._clinic(message.to)
        await post_signed(
            self._session.get(),
            url,
            json.dumps(payload, separators=(",", ":")).encode(),
            secret,
            {"Content-Type": "application/json", "X-Delivery-Id": reference},
            "webhook refused",
        )
        return reference

    async def close(self) -> None:
        await self._session.close()
