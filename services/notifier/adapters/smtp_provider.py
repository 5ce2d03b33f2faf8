"""Email to referrers through SMTP (aiosmtplib). The Message-ID is the notification's
reference, so a resend after a crash is recognisable as the same message."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import aiosmtplib

from notifier.adapters.failures import PermanentFailure, TransientFailure
from notifier.domain.plan import Message


class SmtpProvider:
    def __init__(self, host: str, port: int, sender: str, *, connections: int = 4) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._connections = asyncio.Semaphore(connections)  # the relay's share of us

    async def send(self, message: Message, reference: str) -> str:
        async with self._connections:
            return await self._send(message, reference)

    async def _send(self, message: Message, reference: str) -> str:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Message-ID"] = f"<{reference}@notifier.womens-health.nhs.invalid>"
        email.set_content(message.body)
        try:
            await aiosmtplib.send(email, hostname=self._host, port=self._port, timeout=10)
        except aiosmtplib.SMTPResponseException as error:
            failure = PermanentFailure if 500 <= error.code < 600 else TransientFailure
            raise failure(f"{error.code}: SMTP refused") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TransientFailure(type(error).__name__) from error
        return reference
