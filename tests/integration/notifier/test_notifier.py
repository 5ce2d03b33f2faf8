"""The notifier on the real Kafka and PostgreSQL, reading contacts from a real intake process,
sending through the provider stand-ins."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from devstack.samples import GP_PATIENT, SELF_PATIENT
from notifier.domain.templates import load_templates, sensitive_in
from notifier.main import create_service
from notifier.settings import LOCAL_CALLBACK_TOKEN, NotifierSettings
from shared.contracts import (
    ReferralDecided,
    ReferralNeedsTriage,
    ReferralRejected,
    ReferralRouted,
)
from shared.kafka import build_broker, publish_event
from shared.service import Service
from standins.client import Standins
from tests.support.intake_process import Intake
from tests.support.kafka_reader import body, read_all, wait_for
from tests.support.keys import INTAKE_PUBLIC_KEY
from tests.support.pii import identifiers_in
from tests.support.running import running
from tests.support.servers import Servers
from tests.support.waiting import settled

SENSITIVE = load_templates().sensitive_words


def notifier_settings(
    servers: Servers, schema: str, prefix: str, standins: Standins, intake: Intake, **overrides: Any
) -> NotifierSettings:
    return NotifierSettings.model_validate(
        {
            "kafka_bootstrap_servers": servers.kafka_bootstrap,
            "database_url": servers.database_url,
            "kafka_topic_prefix": prefix,
            "db_schema": schema,
            "consumer_group": f"notifier-{uuid.uuid4().hex[:8]}",
            "intake_url": intake.process.url,
            "intake_api_key": SecretStr(intake.notifier_key),
            "notify_base_url": standins.url,
            "smtp_port": standins.smtp_port,
            "clinic_webhook_url": standins.url + "/clinics/{site}",
            "max_attempts": 3,
            "backoff_initial_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            **overrides,
        }
    )


@pytest.fixture
async def notifier(
    servers: Servers, db_schema: str, topic_prefix: str, standins: Standins, intake_process: Intake
) -> AsyncIterator[Service]:
    standins.reset()
    settings = notifier_settings(servers, db_schema, topic_prefix, standins, intake_process)
    async with running(create_service(settings), servers) as (service, _client):
        yield service


def decision(
    kind: type[ReferralDecided], referral: dict[str, Any], **fields: Any
) -> ReferralDecided:
    values: dict[str, Any] = {
        "correlation_id": str(uuid.uuid4()),
        "referral_id": referral["referral_id"],
        "tracking_reference": referral["tracking_reference"],
        "received_event_id": uuid.uuid4(),
        "service": "pelvic-health",
        "destination": None,
        "reasons": [{"rule": "r", "message": "Because."}],
        "rules_version": "sha256:test",
        **fields,
    }
    return kind(**values)


async def settled_notifier(servers: Servers, notifier: Service) -> None:
    settings = notifier.settings
    await settled(
        servers.kafka_bootstrap,
        servers.database_url,
        prefix=settings.kafka_topic_prefix,
        groups=[settings.consumer_group],
        schemas=[settings.db_schema],
    )


async def publish(servers: Servers, service: Service, event: ReferralDecided) -> None:
    topic = service.settings.kafka_topic_prefix + event.TOPIC.name
    async with build_broker(servers.kafka_bootstrap, "test-router") as broker:
        await publish_event(broker, event, key=str(event.referral_id), topic=topic)


async def until(check: Any, within: float = 20) -> Any:
    """`check()` once it is truthy; tenacity's RetryError after `within` seconds."""
    async for attempt in AsyncRetrying(stop=stop_after_delay(within), wait=wait_fixed(0.2)):
        with attempt:
            found = check()
            assert found
    return found


def for_referral(records: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    return [r for r in records if reference in json.dumps(r)]


async def rows(service: Service) -> list[dict[str, Any]]:
    async with service.database.pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch("SELECT * FROM notifications")]


async def settle(service: Service, count: int) -> list[dict[str, Any]]:
    async def finished() -> list[dict[str, Any]] | None:
        found = await rows(service)
        done = [r for r in found if r["status"] in ("sent", "failed")]
        return found if len(done) >= count else None

    deadline = time.monotonic() + 20
    while (found := await finished()) is None:
        assert time.monotonic() < deadline, await rows(service)
        await asyncio.sleep(0.2)
    return found


ROUTED = {
    "service": "pelvic-health",
    "destination": {
        "id": "pelvic-bsol",
        "name": "Birmingham and Solihull perinatal pelvic health clinic",
    },
}


async def test_a_routed_referral_tells_the_patient_and_the_clinic_once(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    referral = intake_process.gp_referral()
    routed = decision(ReferralRouted, referral, **ROUTED)
    await publish(servers, notifier, routed)
    await settle(notifier, 2)
    reference = referral["tracking_reference"]

    (sms,) = for_referral(standins.records("notify"), reference)
    assert sms["type"] == "sms"
    assert sms["phone_number"] == GP_PATIENT["mobile"]
    text = sms["personalisation"]["body"]
    assert GP_PATIENT["given_name"] in text
    assert reference in text
    assert sensitive_in(text, SENSITIVE) == [], text

    (hook,) = for_referral(standins.records("webhook"), reference)
    assert hook["site"] == "pelvic-bsol"
    assert hook["body"]["referral_url"].endswith(f"/v1/referrals/{referral['referral_id']}")
    assert identifiers_in(json.dumps(hook["body"])) == []

    # A redelivered decision sends nothing new.
    await publish(servers, notifier, routed)
    await settled_notifier(servers, notifier)  # it has taken the repeat, and sent what it would
    assert len(for_referral(standins.records("notify"), reference)) == 1
    assert len(for_referral(standins.records("webhook"), reference)) == 1
    sent = await wait_for(
        servers.kafka_bootstrap,
        notifier.settings.kafka_topic_prefix + "notifications.sent",
        lambda _r: True,
        count=2,
    )
    assert sorted(body(r)["recipient"] for r in sent) == ["clinic", "patient"]


async def test_a_rejected_gp_referral_tells_the_referrer_not_the_patient(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    referral = intake_process.gp_referral()
    rejected = decision(
        ReferralRejected,
        referral,
        service="thrive",
        reasons=[
            {"rule": "thrive.completed-talking-therapies", "message": "Talking therapies first."}
        ],
        signposting=["Refer to NHS Talking Therapies first."],
    )
    await publish(servers, notifier, rejected)
    await settle(notifier, 1)
    (email,) = await until(
        lambda: for_referral(standins.records("email"), referral["tracking_reference"])
    )
    assert email["to"] == ["referrals@example-practice.nhs.uk"]
    assert "Talking therapies first." in email["body"]
    assert "Refer to NHS Talking Therapies first." in email["body"]
    assert identifiers_in(email["subject"] + email["body"]) == []
    assert for_referral(standins.records("notify"), referral["tracking_reference"]) == []


async def test_needs_triage_tells_the_patient_it_is_being_looked_at(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    referral = intake_process.gp_referral(**{"patient.contact_preferences": ["email"]})
    await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    await settle(notifier, 1)
    (email,) = for_referral(standins.records("notify"), referral["tracking_reference"])
    assert email["type"] == "email"
    assert email["email_address"] == GP_PATIENT["email"]
    subject = email["personalisation"]["subject"]
    assert sensitive_in(subject, SENSITIVE) == []
    assert "looking at it" in email["personalisation"]["body"]


async def test_a_provider_failing_twice_then_succeeding_sends_exactly_once(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    standins.fault("notify", times=2, status=503)
    referral = intake_process.gp_referral()
    await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    (row,) = await settle(notifier, 1)
    assert row["status"] == "sent"
    assert len(for_referral(standins.records("notify"), referral["tracking_reference"])) == 1


async def test_a_5xx_after_the_provider_accepted_the_message_is_not_sent_again(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    # Notify took the message, then its answer was a 500: the retry asks by reference first.
    standins.fault("notify", times=1, status=500, record_first=True)
    referral = intake_process.gp_referral()
    await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    (row,) = await settle(notifier, 1)
    assert row["status"] == "sent"
    (sent,) = for_referral(standins.records("notify"), referral["tracking_reference"])
    assert row["provider_id"] == sent["id"]


async def test_slow_down_answers_are_waited_for_and_never_count_as_failed_attempts(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    # Twice as many 429s as the notifier's attempts (3): pacing, not failure (issue 12, 2).
    standins.fault("notify", times=6, status=429, retry_after=1)
    referral = intake_process.gp_referral()
    await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    (row,) = await settle(notifier, 1)
    assert (row["status"], row["attempts"]) == ("sent", 1)
    assert len(for_referral(standins.records("notify"), referral["tracking_reference"])) == 1
    prefix = notifier.settings.kafka_topic_prefix
    assert await read_all(servers.kafka_bootstrap, prefix + "notifications.failed") == []


async def test_a_permanent_failure_is_dead_lettered_and_not_retried(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    standins.fault("notify", times=5, status=400)
    referral = intake_process.gp_referral()
    triage = decision(ReferralNeedsTriage, referral)
    await publish(servers, notifier, triage)
    (row,) = await settle(notifier, 1)
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    prefix = notifier.settings.kafka_topic_prefix
    (letter,) = await wait_for(
        servers.kafka_bootstrap, prefix + "notifications.dlq", lambda _r: True
    )
    assert "patient/sms" in body(letter)["reason"]
    (failed,) = await wait_for(
        servers.kafka_bootstrap, prefix + "notifications.failed", lambda _r: True
    )
    assert body(failed)["decision_event_id"] == str(triage.event_id)
    assert for_referral(standins.records("notify"), referral["tracking_reference"]) == []


async def test_a_rejected_self_referral_tells_the_woman_the_right_route(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    referral = await intake_process.self_referral(servers)
    rejected = decision(
        ReferralRejected,
        referral,
        service="thrive",
        reasons=[
            {
                "rule": "thrive.referrer-is-professional",
                "message": "Thrive needs a professional referral.",
            }
        ],
        signposting=["Your GP, midwife or health visitor can refer you to Thrive."],
    )
    await publish(servers, notifier, rejected)
    await settle(notifier, 1)
    (email,) = for_referral(standins.records("notify"), referral["tracking_reference"])
    assert email["email_address"] == SELF_PATIENT["email"]  # her preference is email
    text = email["personalisation"]["body"]
    assert "Your GP, midwife or health visitor can refer you to Thrive." in text
    assert sensitive_in(email["personalisation"]["subject"], SENSITIVE) == []
    assert standins.records("email") == []  # no referrer to tell: she referred herself


async def test_a_patient_who_chose_full_detail_is_told_the_service_by_name(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    referral = intake_process.gp_referral(**{"patient.message_detail": "full"})
    await publish(servers, notifier, decision(ReferralRouted, referral, **ROUTED))
    await settle(notifier, 2)
    (sms,) = for_referral(standins.records("notify"), referral["tracking_reference"])
    assert "pelvic health clinic" in sms["personalisation"]["body"]


async def test_delivery_receipts_from_notify_update_the_row(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    referral = intake_process.gp_referral()
    await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    (row,) = await settle(notifier, 1)
    receipt = {
        "id": str(uuid.uuid4()),
        "reference": str(row["notification_id"]),
        "status": "delivered",
        "to": "07700900123",
    }
    transport = httpx.ASGITransport(app=notifier.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
        refused = await client.post(
            "/v1/notify/callback", json=receipt, headers={"Authorization": "Bearer wrong"}
        )
        assert refused.status_code == 401
        accepted = await client.post(
            "/v1/notify/callback",
            json=receipt,
            headers={"Authorization": f"Bearer {LOCAL_CALLBACK_TOKEN}"},
        )
        assert accepted.status_code == 204
        bearer = {"Authorization": f"bearer {LOCAL_CALLBACK_TOKEN}"}  # the scheme in any case
        unknown = await client.post(
            "/v1/notify/callback", json=receipt | {"reference": str(uuid.uuid4())}, headers=bearer
        )
        assert unknown.status_code == 404
        malformed = await client.post(
            "/v1/notify/callback", json=receipt | {"reference": "not-ours"}, headers=bearer
        )
        assert malformed.status_code == 422
        assert malformed.json()["detail"][0]["loc"] == ["reference"]
    (row,) = await rows(notifier)
    assert (row["status"], row["delivery_status"]) == ("delivered", "delivered")


async def test_a_batch_is_notified_once_each_and_an_unknown_referral_is_dead_lettered(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    referrals = [intake_process.gp_referral() for _ in range(12)]
    stranger = {"referral_id": str(uuid.uuid4()), "tracking_reference": "WHR-2345-6789X"}
    decisions = [decision(ReferralNeedsTriage, r) for r in (*referrals, stranger)]
    prefix = notifier.settings.kafka_topic_prefix
    async with build_broker(servers.kafka_bootstrap, "test-router") as broker:
        for event in decisions:  # published together, so they arrive in one or few batches
            topic = prefix + event.TOPIC.name
            await publish_event(broker, event, key=str(event.referral_id), topic=topic)

    found = await settle(notifier, len(referrals))
    assert sorted(str(r["referral_id"]) for r in found) == sorted(
        r["referral_id"] for r in referrals
    )
    assert {r["status"] for r in found} == {"sent"}
    sent = standins.records("notify")
    for referral in referrals:
        assert len(for_referral(sent, referral["tracking_reference"])) == 1
    (letter,) = await wait_for(
        servers.kafka_bootstrap, prefix + "notifications.dlq", lambda _r: True
    )
    assert body(letter)["reason"] == "unknown to intake"
    original = json.loads(base64.b64decode(body(letter)["original_base64"]))
    assert original["referral_id"] == stranger["referral_id"]


async def test_while_intake_is_away_nothing_is_sent_or_dead_lettered_and_it_retries(
    servers: Servers,
    db_schema: str,
    topic_prefix: str,
    standins: Standins,
    intake_process: Intake,
    logged: io.StringIO,
) -> None:
    standins.reset()
    settings = notifier_settings(
        servers, db_schema, topic_prefix, standins, intake_process, intake_url="http://127.0.0.1:9"
    )
    referral = intake_process.gp_referral()
    async with running(create_service(settings), servers) as (service, _client):
        await publish(servers, service, decision(ReferralNeedsTriage, referral))
        # Two rounds of "intake unreachable, fetched again" have happened (not: time passed).
        await until(lambda: logged.getvalue().count('"batch failed, fetched again"') >= 2)
        assert await rows(service) == []
        async with service.database.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM inbox") == 0
    letters = await read_all(servers.kafka_bootstrap, topic_prefix + "notifications.dlq")
    assert letters == []
    assert for_referral(standins.records("notify"), referral["tracking_reference"]) == []

    # Intake back: the same decision (its offset was never committed) is notified once.
    settings = notifier_settings(servers, db_schema, topic_prefix, standins, intake_process)
    settings.consumer_group = service.settings.consumer_group
    async with running(create_service(settings), servers) as (service, _client):
        (row,) = await settle(service, 1)
    assert row["status"] == "sent"
    assert len(for_referral(standins.records("notify"), referral["tracking_reference"])) == 1


async def test_poison_on_a_decision_topic_is_dead_lettered_sealed_and_the_next_is_sent(
    servers: Servers, db_schema: str, topic_prefix: str, standins: Standins, intake_process: Intake
) -> None:
    standins.reset()
    settings = notifier_settings(
        servers,
        db_schema,
        topic_prefix,
        standins,
        intake_process,
        dead_letter_public_key=INTAKE_PUBLIC_KEY,
    )
    referral = intake_process.gp_referral()
    good = decision(ReferralNeedsTriage, referral)
    nul = json.loads(decision(ReferralNeedsTriage, referral).model_dump_json())
    nul["tracking_reference"] = "WHR\u0000"
    large = b'{"patient": "' + b"Unsealed " * 90_000 + b'"}'  # 800 kB, clear text
    async with running(create_service(settings), servers) as (service, _client):
        topic = topic_prefix + good.TOPIC.name
        async with build_broker(servers.kafka_bootstrap, "test-router") as broker:
            for poison in (json.dumps(nul).encode(), large):
                await broker.publish(poison, topic=topic, key=referral["referral_id"].encode())
            await publish_event(broker, good, key=str(good.referral_id), topic=topic)
        found = await settle(service, 1)
    assert {(r["decision_event_id"], r["status"]) for r in found} == {(good.event_id, "sent")}
    letters = await wait_for(
        servers.kafka_bootstrap, topic_prefix + "notifications.dlq", lambda _r: True, count=2
    )
    assert len(letters) == 2
    for letter in map(body, letters):
        assert letter["reason"].startswith("not a decision")
        assert letter["original_sealed"]
        assert "Unsealed Unsealed" not in json.dumps(letter)  # kept only sealed
    assert sorted(body(r)["original_truncated"] for r in letters) == [False, True]


async def test_a_woman_reachable_only_by_letter_is_sent_one(
    notifier: Service, servers: Servers, standins: Standins, intake_process: Intake
) -> None:
    referral = await intake_process.self_referral(
        servers,
        **{
            "patient.email": ...,
            "patient.mobile": ...,
            "patient.contact_preferences": ["letter"],
            "patient.address": {"lines": ["1 Station Road", "Bristol"]},
        },
    )
    await publish(servers, notifier, decision(ReferralNeedsTriage, referral))
    (row,) = await settle(notifier, 1)
    assert (row["channel"], row["status"]) == ("letter", "sent")
    (letter,) = for_referral(standins.records("notify"), referral["tracking_reference"])
    assert letter["type"] == "letter"
    lines = [letter["personalisation"][f"address_line_{n}"] for n in range(1, 5)]
    assert lines == [
        f"{SELF_PATIENT['given_name']} {SELF_PATIENT['family_name']}",
        "1 Station Road",
        "Bristol",
        SELF_PATIENT["postcode"],
    ]
    assert sensitive_in(letter["personalisation"]["subject"], SENSITIVE) == []


async def test_sends_are_paced_under_the_providers_limit(
    servers: Servers, db_schema: str, topic_prefix: str, standins: Standins, intake_process: Intake
) -> None:
    """61 a minute: 1 per 1 s window (issue 12, 2). Unpaced, six messages leave in a second."""
    standins.reset()
    settings = notifier_settings(
        servers, db_schema, topic_prefix, standins, intake_process, notify_per_minute=61
    )
    referrals = [intake_process.gp_referral() for _ in range(6)]
    async with running(create_service(settings), servers) as (service, _client):
        async with build_broker(servers.kafka_bootstrap, "test-router") as broker:
            for referral in referrals:
                event = decision(ReferralNeedsTriage, referral)
                topic = topic_prefix + event.TOPIC.name
                await publish_event(broker, event, key=str(event.referral_id), topic=topic)
        deadline = time.monotonic() + 60
        while len(done := [r for r in await rows(service) if r["status"] == "sent"]) < 6:
            assert time.monotonic() < deadline, done
            await asyncio.sleep(0.5)
    sent = [
        record
        for referral in referrals
        for record in for_referral(standins.records("notify"), referral["tracking_reference"])
    ]
    assert len(sent) == 6  # each once
    times = sorted(datetime.fromisoformat(r["received_at"]) for r in sent)
    # The sixth is taken five windows after the first (4 s at least; unpaced: < 1 s).
    assert (times[-1] - times[0]).total_seconds() > 3.5
    assert await read_all(servers.kafka_bootstrap, topic_prefix + "notifications.failed") == []
