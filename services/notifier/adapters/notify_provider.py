"""GOV.UK Notify through its official client. The client is synchronous (requests), so each
call runs in a worker thread. Our templates render the text; the Notify templates are a single
((body)) (and ((subject)) for email) placeholder, so the words stay in our data."""

from __future__ import annotations

import asyncio
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from notifier.adapters.failures import classify_status
from notifier.domain.plan import Message


class NotifyProvider:
    def __init__(
        self, api_key: str, base_url: str, sms_template_id: str, email_template_id: str
    ) -> None:
        self._client = NotificationsAPIClient(api_key, base_url=base_url, timeout=10)
        self._templates = {"sms": sms_template_id, "email": email_template_id}

    async def send(self, message: Message, reference: str) -> str:
        if message.channel == "sms":
            call: Any = lambda: self._client.send_sms_notification(  # noqa: E731
                phone_number=message.to,
                template_id=self._templates["sms"],
                personalisation={"body": message.body},
                reference=reference,
            )
        else:
            call = lambda: self._client.send_email_notification(  # noqa: E731
                email_address=message.to,
                template_id=self._templates["email"],
                personalisation={"subject": message.subject or "", "body": message.body},
                reference=reference,
            )
        try:
            answer = await asyncio.to_thread(call)
        except APIError as error:
            raise classify_status(error.status_code, str(error.message)[:200]) from error
        return str(answer["id"])

    async def find(self, reference: str) -> str | None:
        """After a crash mid-send: did Notify already take this message?"""
        try:
            answer = await asyncio.to_thread(
                lambda: self._client.get_all_notifications(reference=reference)
            )
        except APIError as error:
            raise classify_status(error.status_code, str(error.message)[:200]) from error
        found = answer.get("notifications") or []
        return str(found[0]["id"]) if found else None
