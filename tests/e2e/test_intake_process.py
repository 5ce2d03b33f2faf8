"""Intake as its own process: a crash between commit and publish, and the form in a real
browser (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import asyncpg
import httpx
import pytest
from playwright.sync_api import Page, expect

from devstack.samples import FORM_PATIENT, days_from_today, gp_referral
from devstack.services import run_cli, service_process
from devstack.topics import ensure_topics
from tests.support.accessibility import assert_accessible
from tests.support.browser import browser_page
from tests.support.forms import date_fields
from tests.support.kafka_reader import body, wait_for
from tests.support.pii import identifiers_in
from tests.support.servers import Servers

RECEIVED = "referrals.received"


@pytest.fixture
def namespace(servers: Servers, topic_prefix: str, db_schema: str) -> dict[str, str]:
    asyncio.run(ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix))
    return {
        "KAFKA_TOPIC_PREFIX": topic_prefix,
        "INTAKE_DB_SCHEMA": db_schema,
        "INTAKE_CONSUMER_GROUP": f"intake-{uuid.uuid4().hex[:8]}",
    }


def received_for(servers: Servers, prefix: str, key: str) -> list[dict[str, object]]:
    records = asyncio.run(
        wait_for(servers.kafka_bootstrap, prefix + RECEIVED, lambda r: r.key == key.encode())
    )
    return [body(r) for r in records]


async def _unpublished(dsn: str, schema: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        query = f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


def test_a_referral_committed_before_a_crash_is_published_after_restart(
    servers: Servers, namespace: dict[str, str]
) -> None:
    without_relay = {**namespace, "INTAKE_RELAY_ENABLED": "false"}
    with service_process("intake", without_relay) as intake:
        key = run_cli("intake", "keys", "create", "--organisation", "M85001", env=namespace)
        response = httpx.post(
            f"{intake.url}/v1/referrals",
            json=gp_referral(),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 202
        referral_id = response.json()["referral_id"]
        intake.kill()  # dies after the commit, before anything was published
        first_log = intake.output()

    schema = namespace["INTAKE_DB_SCHEMA"]
    assert asyncio.run(_unpublished(servers.database_url, schema)) == 1
    with service_process("intake", namespace) as restarted:
        events = received_for(servers, namespace["KAFKA_TOPIC_PREFIX"], referral_id)
        assert len(events) == 1
        assert events[0]["referral_id"] == referral_id
        assert asyncio.run(_unpublished(servers.database_url, schema)) == 0
        second_log = restarted.output()
    assert identifiers_in(first_log + second_log) == []


def test_a_woman_refers_herself_in_a_real_browser(
    servers: Servers, namespace: dict[str, str]
) -> None:
    with service_process("intake", namespace) as intake:
        reference = refer_herself(intake.url)
        records = asyncio.run(
            wait_for(
                servers.kafka_bootstrap,
                namespace["KAFKA_TOPIC_PREFIX"] + RECEIVED,
                lambda r: json.loads(r.value or b"{}").get("tracking_reference") == reference,
            )
        )
        assert len(records) == 1
        assert identifiers_in((records[0].value or b"").decode()) == []
        assert identifiers_in(intake.output()) == []


def refer_herself(base_url: str) -> str:
    """Through the form, without JavaScript, first with nothing filled in; returns the
    tracking reference the confirmation page shows."""
    with browser_page() as page:
        page.goto(f"{base_url}/self-referral")
        assert_accessible(page)
        page.get_by_role("link", name="Pelvic health support in pregnancy and after birth").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Pelvic health")
        assert_accessible(page)

        page.get_by_role("button", name="Send my request").click()
        expect(page).to_have_title(re.compile(r"^Error: "))
        summary = page.get_by_role("alert")
        expect(summary).to_contain_text("There is a problem")
        expect(summary.get_by_role("link", name="Enter your first name.")).to_have_attribute(
            "href", "#patient-given_name"
        )
        expect(page.locator("#patient-given_name-error")).to_be_visible()
        assert_accessible(page)  # the page with its errors, too

        fill_in(page)
        page.get_by_role("button", name="Send my request").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your request has been sent")
        assert_accessible(page)
        return page.locator("#tracking-reference").inner_text()


def fill_in(page: Page) -> None:
    page.get_by_label("First name").fill(FORM_PATIENT["given_name"])
    page.get_by_label("Last name").fill(FORM_PATIENT["family_name"])
    fill_date(page, "Date of birth", FORM_PATIENT["date_of_birth"])
    page.get_by_label("Female").check()
    page.get_by_label("Postcode").fill(FORM_PATIENT["postcode"])
    page.get_by_label("I have had a baby").check()
    fill_date(page, "If you have had a baby, the date of the birth", days_from_today(-62))
    page.get_by_label("Tell us a little about what you would like help with").fill(
        "Some leaking when I laugh."
    )
    page.get_by_label("Email address (optional)").fill(FORM_PATIENT["email"])
    page.get_by_label("Email", exact=True).check()


def test_x_forwarded_for_does_not_pick_a_new_rate_limit_key(
    servers: Servers, namespace: dict[str, str]
) -> None:
    """Under uvicorn, as deployed: a client cannot name its own address (issue 11, 4)."""
    limited = {**namespace, "INTAKE_FORM_RATE_LIMIT": "2/minute"}
    with service_process("intake", limited) as intake, httpx.Client(base_url=intake.url) as client:
        statuses = []
        for n in range(3):
            page = client.get("/self-referral/pelvic-health")
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert found is not None
            data = {"csrf_token": found.group(1), "patient.postcode": "nowhere"}
            answer = client.post(
                "/self-referral/pelvic-health",
                data=data,
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            statuses.append(answer.status_code)
    assert statuses == [422, 422, 429]
    assert "Retry-After" in answer.headers


def test_a_woman_cancels_her_request_in_a_real_browser(
    servers: Servers, namespace: dict[str, str]
) -> None:
    """From the confirmation page's link, without JavaScript: her reference, date of birth and
    postcode; the same kind answer whatever she typed; her request cancelled and announced."""
    prefix = namespace["KAFKA_TOPIC_PREFIX"]
    with service_process("intake", namespace) as intake:
        reference = refer_herself(intake.url)
        (received,) = asyncio.run(
            wait_for(
                servers.kafka_bootstrap,
                prefix + RECEIVED,
                lambda r: json.loads(r.value or b"{}").get("tracking_reference") == reference,
            )
        )
        referral_id = json.loads(received.value or b"{}")["referral_id"]
        with browser_page() as page:
            page.goto(f"{intake.url}/self-referral")
            page.get_by_role("link", name="Cancel a request you sent").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Cancel a request you sent")
            assert_accessible(page)
            page.get_by_role("button", name="Cancel my request").click()
            expect(page.get_by_role("alert")).to_contain_text("Enter your reference")
            assert_accessible(page)
            give_proof(page, reference)
            page.get_by_role("button", name="Cancel my request").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
            expect(page.locator("main")).to_contain_text("If these details match")
        (cancelled,) = asyncio.run(
            wait_for(
                servers.kafka_bootstrap,
                prefix + "referrals.lifecycle",
                lambda r: r.key == referral_id.encode(),
            )
        )
        assert body(cancelled)["transition"] == "cancelled"
        assert body(cancelled)["by"] == "patient"
        assert identifiers_in(intake.output()) == []


def test_a_woman_checks_where_her_referral_stands_in_a_real_browser(
    servers: Servers, namespace: dict[str, str]
) -> None:
    """From the start page, without JavaScript: details that do not match get the kind
    answer that says nothing; hers show where it stands and what happens next. Every page
    passes the accessibility check."""
    with service_process("intake", namespace) as intake:
        reference = refer_herself(intake.url)
        asyncio.run(
            wait_for(
                servers.kafka_bootstrap,
                namespace["KAFKA_TOPIC_PREFIX"] + RECEIVED,
                lambda r: json.loads(r.value or b"{}").get("tracking_reference") == reference,
            )
        )
        with browser_page() as page:
            page.goto(f"{intake.url}/self-referral")
            page.get_by_role("link", name="Check where your referral is").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Check your referral")
            assert_accessible(page)
            page.get_by_role("button", name="Check my referral").click()
            summary = page.get_by_role("alert")
            expect(summary.get_by_role("link", name="Enter your date of birth")).to_have_attribute(
                "href", "#date_of_birth-day"
            )
            assert_accessible(page)
            give_proof(page, reference)
            page.get_by_label("Postcode").fill("ZZ9 9ZZ")
            page.get_by_role("button", name="Check my referral").click()
            expect(page.get_by_role("status")).to_contain_text("We could not find a referral")
            give_proof(page, reference)
            page.get_by_role("button", name="Check my referral").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Your referral")
            expect(page.locator("main")).to_contain_text("We have received your referral")
            expect(page.get_by_role("link", name="Cancel this request")).to_be_visible()
            assert_accessible(page)
        assert identifiers_in(intake.output()) == []


def give_proof(page: Page, reference: str) -> None:
    """Her reference, her date of birth in the three-field date input, her postcode."""
    page.get_by_label("Your reference").fill(reference)
    fill_date(page, "Date of birth", FORM_PATIENT["date_of_birth"])
    page.get_by_label("Postcode").fill(FORM_PATIENT["postcode"])


def fill_date(page: Page, legend: str, iso: str) -> None:
    """The NHS three-field date input, as she fills it in: day, month, year."""
    group = page.get_by_role("group", name=legend)
    for part, value in date_fields("date", iso).items():
        group.get_by_label(part.rsplit("-", 1)[1].capitalize(), exact=True).fill(value)
