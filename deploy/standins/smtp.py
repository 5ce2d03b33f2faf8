"""A real SMTP server (aiosmtpd) that records each message it accepts."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from standins.recorder import Recorder


class _Handler:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=default)
        body = parsed.get_body(preferencelist=("plain",))
        self.recorder.add(
            "email",
            {
                "to": list(envelope.rcpt_tos),
                "subject": str(parsed["Subject"]),
                "message_id": str(parsed["Message-ID"]),
                "body": body.get_content() if body is not None else "",
            },
        )
        return "250 Message accepted"


def smtp_server(recorder: Recorder, host: str, port: int) -> Controller:
    return Controller(_Handler(recorder), hostname=host, port=port)
