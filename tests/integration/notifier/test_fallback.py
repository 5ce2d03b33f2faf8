"""Channel fallback on delivery receipts, on the real PostgreSQL and Kafka, a real intake
process and the provider stand-ins, on an injected clock: an SMS with no receipt in time, or
a failed one, is followed by exactly one email, however many notifiers pass at once; one
that was delivered is not; a woman with no other way to be reached is recorded as such; an
email that fails in its turn goes by letter where she gave an address."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from notifier.adapters.fallback_store import PostgresFallbacks
from notifier.main import Parts, notifier_parts
from notifier.service_layer.fallback import Passed, fall_back_due
from notifier.settings import LOCAL_CALLBACK_TOKEN
from shared.contracts import ReferralNeedsTriage
from shared.service import Service
from standins.client import Standins
from tests.integration.notifier.test_notifier import (
    decision,
    for_referral,
    notifier,
    publish,
    rows,
    settle,
)
from tests.support.intake_process import Intake
from tests.support.servers import Servers

__all__ = ["notifier"]


@pytest.fixture
async def second(notifier: Service) -> AsyncIterator[Parts]:
    """Another notifier's parts over the same tables: a second process, as it were."""
    parts = notifier_parts(notifier.settings, notifier.database)  # type: ignore[arg-type]
    yield parts
    for close in parts.closing:
        await close()


async def fall_back(notifier: Service, parts: Parts, now: datetime) -> Passed:
    return await fall_back_due(
        PostgresFallbacks(notifier.database), parts.notifier, parts.intake, now
    )


async def receipt(notifier: Service, row: dict[str, Any], status: str) -> None:
    transport = httpx.ASGITransport(app=notifier.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
        answer = await client.post(
            "/v1/notify/callback",
            json={
                "id": str(uuid.uuid4()),
                "reference": str(row["notification_id"]),
                "status": status,
            },
            headers={"Authorization": f"Bearer {LOCAL_CALLBACK_TOKEN}"},
        )
    assert answer.status_code == 204


async def test_an_sms_with_no_receipt_in_time_is_followed_by_exactly_one_email(
    notifier: Service,
    second: Parts,
    servers: Servers,
    standins: Standins,
    intake_process: Intake,
) -> None:
    referral = intake_process.gp_referral()
    await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    (sms,) = await settle(notifier, 1)
    assert (sms["channel"], sms["status"]) == ("sms", "sent")
    due = sms["receipt_due_at"]
    wait = timedelta(minutes=notifier.settings.receipt_wait_minutes)  # type: ignore[attr-defined]
    assert due - sms["finished_at"] == pytest.approx(wait, abs=timedelta(seconds=5))

    assert await fall_back(notifier, second, due - timedelta(minutes=1)) == Passed(0, 0)
    third = notifier_parts(notifier.settings, notifier.database)  # type: ignore[arg-type]
    try:
        passes = await asyncio.gather(
            fall_back(notifier, second, due + timedelta(minutes=1)),
            fall_back(notifier, third, due + timedelta(minutes=1)),
        )
    finally:
        for close in third.closing:
            await close()
    assert sum(p.fell_back for p in passes) == 1
    sent_to_her = for_referral(standins.records("notify"), referral["tracking_reference"])
    assert [m["type"] for m in sent_to_her] == ["sms", "email"]
    assert sent_to_her[1]["email_address"] == "jane.doeberry@example.com"
    found = {r["channel"]: r for r in await rows(notifier)}
    email_due = found["email"]["receipt_due_at"]
    assert email_due > due  # the email awaits its own receipt: nothing more till then
    assert await fall_back(notifier, second, email_due - timedelta(seconds=1)) == Passed(0, 0)

    assert (found["sms"]["fallback"], found["email"]["fallback_of"]) == (
        "email", sms["notification_id"],
    )  # fmt: skip
    assert found["email"]["status"] == "sent"


async def test_a_failed_receipt_falls_back_at_once_and_a_delivered_one_never(
    notifier: Service,
    second: Parts,
    servers: Servers,
    standins: Standins,
    intake_process: Intake,
) -> None:
    failed, delivered = intake_process.gp_referral(), intake_process.gp_referral()
    for referral in (failed, delivered):
        await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    by_referral = {str(r["referral_id"]): r for r in await settle(notifier, 2)}
    await receipt(notifier, by_referral[failed["referral_id"]], "permanent-failure")
    await receipt(notifier, by_referral[delivered["referral_id"]], "delivered")

    now = datetime.now(UTC) + timedelta(seconds=5)  # the failure made it due at once
    assert await fall_back(notifier, second, now) == Passed(1, 1)
    # A month on: the fallback email had no receipt either (and she has no address), but
    # the delivered SMS is never followed by anything.
    assert await fall_back(notifier, second, now + timedelta(days=30)) == Passed(1, 0)
    assert len(for_referral(standins.records("notify"), failed["tracking_reference"])) == 2
    assert len(for_referral(standins.records("notify"), delivered["tracking_reference"])) == 1
    kept = {(str(r["referral_id"]), r["channel"]): r for r in await rows(notifier)}
    assert kept[(delivered["referral_id"], "sms")]["status"] == "delivered"
    assert kept[(delivered["referral_id"], "sms")]["fallback"] is None
    assert kept[(failed["referral_id"], "email")]["fallback"] == "none: no other way"


async def test_with_no_other_way_to_reach_her_it_is_recorded_and_an_email_falls_to_a_letter(
    notifier: Service,
    second: Parts,
    servers: Servers,
    standins: Standins,
    intake_process: Intake,
) -> None:
    sms_only = await intake_process.self_referral(
        servers, **{"patient.email": ..., "patient.contact_preferences": ["sms"]}
    )
    email_then_letter = await intake_process.self_referral(
        servers,
        **{
            "patient.mobile": ...,
            "patient.contact_preferences": ["email"],
            "patient.address": {"lines": ["1 Station Road", "Bristol"]},
        },
    )
    for referral in (sms_only, email_then_letter):
        await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    for row in await settle(notifier, 2):
        await receipt(notifier, row, "temporary-failure")

    now = datetime.now(UTC) + timedelta(seconds=5)
    assert await fall_back(notifier, second, now) == Passed(2, 1)
    by_channel = {r["channel"]: r for r in await rows(notifier)}
    assert by_channel["sms"]["fallback"] == "none: no other way"
    assert by_channel["email"]["fallback"] == "letter"
    assert by_channel["letter"]["status"] == "sent"
    assert by_channel["letter"]["receipt_due_at"] is None  # Notify reports no delivery
    letters = for_referral(standins.records("notify"), email_then_letter["tracking_reference"])
    assert [m["type"] for m in letters] == ["email", "letter"]
