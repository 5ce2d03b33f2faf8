"""A GOV.UK Notify-compatible API: the endpoints the official client calls, with its JWT
checked (issuer = service id, HS256 with the key's secret, issued within 30 seconds).

It can behave as Notify does under load: refuse with `429 RateLimitError` above a number of
messages in any rolling 60 seconds, and fail a share of requests with a 500 (some of them
after the message was accepted, as when an answer is lost on its way back).

Like Notify it sends a delivery receipt for each SMS and email to the service's callback
(registered at `/_stub/notify-callback`, as a service sets it in Notify's settings):
`delivered`, unless a test asked for another status, or for none, with a `notify_receipt`
fault. Each receipt is recorded (`notify_receipts`), so a test counts what was *delivered*."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import TokenError

from standins.recorder import Recorder


@dataclass(frozen=True)
class NotifyBehaviour:
    """How strict this Notify is: `per_minute` None accepts everything; `error_rate` is the
    share of sends answered 500 (half of them after the message was accepted);
    `slow_down_rate` the share answered 429 whatever the count (another user of the key)."""

    per_minute: int | None = None
    error_rate: float = 0.0
    slow_down_rate: float = 0.0


class RollingMinute:
    """Notify's limit: so many messages per key in any rolling 60 seconds."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sent: deque[float] = deque()

    def admit(self) -> bool:
        now = time.monotonic()
        while self._sent and self._sent[0] <= now - 60:
            self._sent.popleft()
        if len(self._sent) >= self.limit:
            return False
        self._sent.append(now)
        return True


def _refusal(status: int, error: str, message: str) -> HTTPException:
    return HTTPException(status, {"errors": [{"error": error, "message": message}]})


class Callback:
    """Where the service's delivery receipts go, and the bearer token it expects."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.bearer_token = ""
        self._tasks: set[asyncio.Task[None]] = set()
        # One session for every receipt (aiohttp: httpx costs several times its CPU per
        # request); a client made per receipt built its TLS context each time, and cost the
        # stand-in more CPU than the whole pipeline under load.
        self._session: aiohttp.ClientSession | None = None

    def send_later(self, recorder: Recorder, record: dict[str, Any], status: str) -> None:
        receipt = {
            "id": record["id"],
            "reference": record.get("reference"),
            "to": record.get("phone_number") or record.get("email_address"),
            "status": status,
            "notification_type": record["type"],
            "created_at": record["received_at"],
            "completed_at": datetime.now(UTC).isoformat(),
            "sent_at": record["received_at"],
        }
        recorder.add(
            "notify_receipts",
            {"reference": receipt["reference"], "type": record["type"], "status": status},
        )
        if self.url is None:
            return
        task = asyncio.get_running_loop().create_task(self._post(self.url, receipt))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, receipt: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {self.bearer_token}"}
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        for _ in range(5):  # Notify retries a callback that failed
            try:
                async with self._session.post(url, json=receipt, headers=headers) as answer:
                    if answer.status < 500:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(1)


def notify_api(
    recorder: Recorder,
    api_key: str,
    behaviour: NotifyBehaviour | None = None,
    callback: Callback | None = None,
) -> APIRouter:
    service_id, secret = api_key[-73:-37], api_key[-36:]
    callback = callback or Callback()
    behaviour = behaviour or NotifyBehaviour()
    window = RollingMinute(behaviour.per_minute) if behaviour.per_minute else None
    chance = random.SystemRandom()
    router = APIRouter(prefix="/v2", tags=["notify"])

    def authenticate(authorization: str | None) -> None:
        token = (authorization or "").removeprefix("Bearer ").strip()
        try:
            if get_token_issuer(token) != service_id:
                raise HTTPException(
                    403,
                    {
                        "errors": [
                            {"error": "AuthError", "message": "Invalid token: service not found"}
                        ]
                    },
                )
            decode_jwt_token(token, secret)
        except TokenError as error:
            raise HTTPException(
                403, {"errors": [{"error": "AuthError", "message": f"Invalid token: {error}"}]}
            ) from error

    def behave(record: dict[str, Any]) -> None:
        """The configured strictness: a 429 above the limit, a 500 now and then."""
        if window is not None and not window.admit():
            recorder.add("notify_refused", {"status": 429, "at": record["received_at"]})
            raise _refusal(
                429,
                "RateLimitError",
                f"Exceeded rate limit for key type LIVE of {window.limit} requests per 60 seconds",
            )
        if behaviour.slow_down_rate and chance.random() < behaviour.slow_down_rate:
            recorder.add("notify_refused", {"status": 429, "at": record["received_at"]})
            raise _refusal(429, "RateLimitError", "Exceeded rate limit for key type LIVE")
        if behaviour.error_rate and chance.random() < behaviour.error_rate:
            after = chance.random() < 0.5
            if after:  # accepted, but the answer is lost: a retry must not send it again
                recorder.add("notify", record)
            recorder.add("notify_refused", {"status": 500, "accepted": after})
            raise _refusal(500, "Exception", "Internal server error")

    async def accept(kind: str, request: Request, authorization: str | None) -> dict[str, Any]:
        authenticate(authorization)
        body = await request.json()
        notification_id = str(uuid.uuid4())
        record = {
            "id": notification_id,
            "type": kind,
            "received_at": datetime.now(UTC).isoformat(),
            **body,
        }
        behave(record)
        fault = recorder.next_fault("notify")
        if fault and fault.get("record_first"):
            recorder.add("notify", record)
        if fault and fault.get("delay"):
            await asyncio.sleep(float(fault["delay"]))
        if fault and fault.get("status"):
            status = int(fault["status"])
            error = "RateLimitError" if status == 429 else "StubFault"
            raise HTTPException(
                status,
                {"errors": [{"error": error, "message": "injected"}]},
                headers={"Retry-After": str(fault.get("retry_after", 1))}
                if status == 429
                else None,
            )
        if not (fault and fault.get("record_first")):
            recorder.add("notify", record)
        if kind in ("sms", "email"):
            receipt = recorder.next_fault("notify_receipt") or {"status": "delivered"}
            if receipt.get("status"):  # {"status": None}: no receipt ever comes
                callback.send_later(recorder, record, str(receipt["status"]))
        return {
            "id": notification_id,
            "reference": body.get("reference"),
            "content": {"body": body.get("personalisation", {}).get("body", "")},
            "uri": f"/v2/notifications/{notification_id}",
            "template": {"id": body.get("template_id"), "version": 1, "uri": ""},
        }

    # Plain Starlette routes: a benchmark sends thousands, and the stand-in shares the
    # machine with the pipeline it measures (FastAPI's handling cost several times the rest).
    def sending(kind: str) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def send(request: Request) -> JSONResponse:
            answer = await accept(kind, request, request.headers.get("authorization"))
            return JSONResponse(answer, 201)

        return send

    for kind in ("sms", "email", "letter"):
        router.add_route(f"/v2/notifications/{kind}", sending(kind), methods=["POST"])

    @router.get("/notifications")
    async def find(
        reference: str | None = None, authorization: str | None = Header(None)
    ) -> dict[str, Any]:
        authenticate(authorization)
        found = [
            r
            for r in recorder.all("notify")
            if reference is None or r.get("reference") == reference
        ]
        return {
            "notifications": [
                {
                    "id": r["id"],
                    "reference": r.get("reference"),
                    "status": "sending",
                    "type": r["type"],
                }
                for r in found
            ],
            "links": {},
        }

    return router
