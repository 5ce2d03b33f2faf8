"""GOV.UK Notify's v2 API, sent asynchronously. The official client is synchronous (requests,
a thread per call), so we take from it what is Notify's own (the API key's parts, the JWT and
the headers) and send the two calls we need with aiohttp. Our templates render the text; the
Notify templates are a single ((body)) (and ((subject)) for email) placeholder, so the words
stay in our data."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
from notifications_python_client.authentication import create_jwt_token
from notifications_python_client.base import BaseAPIClient

from notifier.adapters.failures import classify_status
from notifier.adapters.http_session import LazySession
from notifier.domain.plan import Message

TOKEN_REUSE_SECONDS = 10  # Notify accepts a token issued up to 30 s before the request


class NotifyProvider:
    def __init__(
        self,
        api_key: str,
        base_url: str,
        sms_template_id: str,
        email_template_id: str,
        letter_template_id: str,
        *,
        connections: int = 64,
    ) -> None:
        self._official = BaseAPIClient(api_key, base_url=base_url)  # parses and checks the key
        self._base_url = base_url.rstrip("/")
        self._templates = {
            "sms": sms_template_id,
            "email": email_template_id,
            "letter": letter_template_id,
        }
        self._session = LazySession(timeout=10, connections=connections)
        self._token, self._token_issued = "", float("-inf")

    async def send(self, message: Message, reference: str) -> str:
        body: dict[str, Any] = {
            "template_id": self._templates[message.channel],
            "reference": reference,
        }
        if message.channel == "sms":
            body |= {"phone_number": message.to, "personalisation": {"body": message.body}}
        elif message.channel == "letter":
            # Notify takes the address as address_line_1..7, the postcode last.
            lines = message.to.split("\n")[:7]
            personalisation = {f"address_line_{n}": line for n, line in enumerate(lines, 1)}
            personalisation |= {"subject": message.subject or "", "body": message.body}
            body |= {"personalisation": personalisation}
        else:
            personalisation = {"subject": message.subject or "", "body": message.body}
            body |= {"email_address": message.to, "personalisation": personalisation}
        answer = await self._request("POST", f"/v2/notifications/{message.channel}", json=body)
        return str(answer["id"])

    async def find(self, reference: str) -> str | None:
        """After a crash mid-send: did Notify already take this message?"""
        answer = await self._request("GET", "/v2/notifications", params={"reference": reference})
        found = answer.get("notifications") or []
        return str(found[0]["id"]) if found else None

    async def _request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        if time.monotonic() - self._token_issued > TOKEN_REUSE_SECONDS:
            self._token = create_jwt_token(self._official.api_key, self._official.service_id)
            self._token_issued = time.monotonic()
        headers = self._official.generate_headers(self._token)
        try:
            async with self._session.get().request(
                method, self._base_url + path, headers=headers, **options
            ) as response:
                if response.status >= 300:
                    raise classify_status(
                        response.status,
                        _error_text(await response.read()),
                        response.headers.get("Retry-After"),
                    )
                answer: dict[str, Any] = await response.json()
                return answer
        except (aiohttp.ClientError, TimeoutError) as error:
            raise classify_status(None, type(error).__name__) from error

    async def close(self) -> None:
        await self._session.close()


def _error_text(body: bytes) -> str:
    """Notify's errors are JSON ({"errors": [{"error": ..., "message": ...}]}) and name the
    field, not its value; anything else is not repeated, since it lands on a topic."""
    try:
        errors = json.loads(body)["errors"]
        return "; ".join(f"{e['error']}: {e['message']}" for e in errors)[:200]
    except (ValueError, KeyError, TypeError):
        return "an unreadable error answer"
