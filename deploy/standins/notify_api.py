"""A GOV.UK Notify-compatible API: the endpoints the official client calls, with its JWT
checked (issuer = service id, HS256 with the key's secret, issued within 30 seconds)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request
from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import TokenError

from standins.recorder import Recorder


def notify_api(recorder: Recorder, api_key: str) -> APIRouter:
    service_id, secret = api_key[-73:-37], api_key[-36:]
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
        return {
            "id": notification_id,
            "reference": body.get("reference"),
            "content": {"body": body.get("personalisation", {}).get("body", "")},
            "uri": f"/v2/notifications/{notification_id}",
            "template": {"id": body.get("template_id"), "version": 1, "uri": ""},
        }

    @router.post("/notifications/sms", status_code=201)
    async def sms(request: Request, authorization: str | None = Header(None)) -> dict[str, Any]:
        return await accept("sms", request, authorization)

    @router.post("/notifications/email", status_code=201)
    async def email(request: Request, authorization: str | None = Header(None)) -> dict[str, Any]:
        return await accept("email", request, authorization)

    @router.post("/notifications/letter", status_code=201)
    async def letter(request: Request, authorization: str | None = Header(None)) -> dict[str, Any]:
        return await accept("letter", request, authorization)

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
