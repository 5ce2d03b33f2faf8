"""A stalled notifier and the one that took its partitions (issue 12, 1): a claim is a lease;
no live lease is taken over; a row taken over after its lease is reconciled with the provider
before anything is sent; the stalled one, waking, finds its lease gone and sends nothing."""

from __future__ import annotations

import asyncio
import time
import uuid

from notifier.adapters import notification_store as store
from notifier.adapters.notify_provider import NotifyProvider
from notifier.domain.plan import Message
from notifier.main import create_service
from notifier.settings import LOCAL_NOTIFY_KEY
from shared.contracts import ReferralNeedsTriage
from standins.client import Standins
from tests.integration.notifier.test_notifier import (
    decision,
    for_referral,
    notifier_settings,
    publish,
    rows,
)
from tests.support.intake_process import Intake
from tests.support.running import running
from tests.support.servers import Servers


async def test_a_stalled_notifiers_message_is_sent_once_by_whoever_holds_the_lease(
    servers: Servers, db_schema: str, topic_prefix: str, standins: Standins, intake_process: Intake
) -> None:
    standins.reset()
    settings = notifier_settings(servers, db_schema, topic_prefix, standins, intake_process)
    referral = intake_process.gp_referral()
    triage = decision(ReferralNeedsTriage, referral)
    stalled = uuid.uuid4()  # the notifier that claimed the row, then stopped (SIGSTOP)
    async with running(create_service(settings), servers) as (service, _client):
        async with service.database.pool.acquire() as conn:
            key = (triage.event_id, "patient", "sms")
            row = (await store.ensure(conn, [(key, triage.referral_id)]))[key]
            assert await store.claim(conn, [row.notification_id], stalled, 60) == {
                row.notification_id: "pending"
            }
        await publish(servers, service, triage)  # the partition is now this notifier's

        # While the stalled one's lease lives, this one sends nothing (it retries the batch).
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert for_referral(standins.records("notify"), referral["tracking_reference"]) == []
            (current,) = await rows(service)
            assert (current["status"], current["lease_owner"]) == ("sending", stalled)
            await asyncio.sleep(0.3)

        # It had sent just before it stalled; then its lease ends.
        provider = NotifyProvider(LOCAL_NOTIFY_KEY, standins.url, "sms-t", "email-t", "letter-t")
        text = f"Hello, your request {referral['tracking_reference']} is being looked at."
        message = Message("patient", "sms", "07700900123", None, text)
        await provider.send(message, str(row.notification_id))
        await provider.close()
        async with service.database.pool.acquire() as conn:
            await conn.execute(
                "UPDATE notifications SET lease_expires_at = now() - interval '1 second'"
            )

        # Taken over, reconciled by reference: found at the provider, not sent again.
        deadline = time.monotonic() + 40
        while (current := (await rows(service))[0])["status"] != "sent":
            assert time.monotonic() < deadline, current
            await asyncio.sleep(0.3)
        assert current["lease_owner"] != stalled
        async with service.database.pool.acquire() as conn:
            # The stalled one wakes: its fence says no, and its ending changes nothing.
            assert not await store.still_ours(conn, row.notification_id, stalled, 60)
            late = store.Ending(row.notification_id, "failed", error="late")
            await store.finish(conn, [late], owner=stalled)
            sent_events = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE topic = 'notifications.sent'"
            )
        (final,) = await rows(service)
    assert (final["status"], final["error"]) == ("sent", None)
    assert len(for_referral(standins.records("notify"), referral["tracking_reference"])) == 1
    assert sent_events == 1
