"""The three services as separate processes, with the provider stand-ins: a referral goes in,
is decided, and the right people are told once."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from devstack.samples import GP_PATIENT, SELF_PATIENT, gp_referral, self_referral
from devstack.services import ServiceProcess, run_cli
from devstack.system import running_system
from devstack.topics import ensure_topics
from intake.adapters.self_referral_codec import encode
from intake.domain.tracking import new_tracking_reference
from ops.__main__ import cli as ops_cli
from shared.clock import days_from_today
from shared.kafka import build_broker, publish_event
from shared.submission import ReferralSubmission
from standins.client import Standins
from tests.support.accessibility import assert_accessible
from tests.support.bars import fresh
from tests.support.browser import browser_page
from tests.support.forms import date_fields
from tests.support.keys import INTAKE_PUBLIC_KEY
from tests.support.pii import identifiers_in
from tests.support.servers import Servers
from tests.support.staff import PASSWORD
from tests.support.staff import sign_in as staff_sign_in
from tests.support.waiting import eventually, system_settled


class Pipeline:
    def __init__(
        self,
        servers: Servers,
        env: dict[str, str],
        intake: ServiceProcess,
        processes: list[ServiceProcess],
        key: str,
    ) -> None:
        self.servers, self.env, self.intake, self.processes, self.key = (
            servers,
            env,
            intake,
            processes,
            key,
        )

    def submit(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.intake.url}/v1/referrals",
            json=payload,
            headers={"Authorization": f"Bearer {self.key}"},
        )
        assert answer.status_code == 202, answer.text
        return dict(answer.json())

    def self_refer(self, **changes: Any) -> str:
        reference = new_tracking_reference()
        event = encode(
            ReferralSubmission.model_validate(self_referral(**changes)),
            INTAKE_PUBLIC_KEY,
            source="partner-form",
            correlation_id=str(uuid.uuid4()),
            referral_id=uuid.uuid4(),
            tracking_reference=reference,
        )

        async def publish() -> None:
            async with build_broker(self.servers.kafka_bootstrap, "partner-form") as broker:
                await publish_event(
                    broker,
                    event,
                    key=str(event.referral_id),
                    topic=self.env["KAFKA_TOPIC_PREFIX"] + "referrals.self-referral",
                )

        asyncio.run(publish())
        return reference

    def logs(self) -> str:
        return "".join(p.output() for p in self.processes)

    def stands(self, answer: dict[str, Any], state: str, key: str | None = None) -> None:
        """Until intake keeps the referral in `state`: a decision reaches the notifier and
        intake on their own consumers, so a clinic's webhook can come before intake knows."""
        url = f"{self.intake.url}/v1/referrals/{answer.get('referral_id') or answer['id']}"
        headers = {"Authorization": f"Bearer {key or self.key}"}
        eventually(lambda: httpx.get(url, headers=headers).json().get("status") == state)

    def settled(self) -> None:
        """Until every consumer has committed all it was sent and nothing is left to send:
        after this, nothing more arrives at the stand-ins."""
        asyncio.run(
            system_settled(self.servers.kafka_bootstrap, self.servers.database_url, self.env)
        )


@pytest.fixture
def pipeline(servers: Servers, standins: Standins, topic_prefix: str) -> Iterator[Pipeline]:
    standins.reset()
    asyncio.run(ensure_topics(servers.kafka_bootstrap, prefix=topic_prefix))
    with running_system(topic_prefix, standins) as system:
        yield Pipeline(servers, system.env, system.intake, system.processes, system.referrer_key)


def mentioning(records: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    return [r for r in records if reference in str(r)]


def test_a_routed_gp_referral_tells_the_patient_and_the_clinic_once(
    pipeline: Pipeline, standins: Standins
) -> None:
    answer = pipeline.submit(gp_referral())
    reference = answer["tracking_reference"]
    sms = eventually(lambda: mentioning(standins.records("notify"), reference))
    hook = eventually(lambda: mentioning(standins.records("webhook"), reference))
    pipeline.settled()
    assert len(mentioning(standins.records("notify"), reference)) == 1
    assert len(mentioning(standins.records("webhook"), reference)) == 1
    assert sms[0]["phone_number"] == GP_PATIENT["mobile"]
    assert hook[0]["site"] == "pelvic-bsol"
    status = httpx.get(
        f"{pipeline.intake.url}{answer['status_url']}",
        headers={"Authorization": f"Bearer {pipeline.key}"},
    ).json()
    assert status["status"] == "routed"
    assert identifiers_in(pipeline.logs()) == []


def test_a_rejected_self_referral_tells_the_woman_the_right_route_once(
    pipeline: Pipeline, standins: Standins
) -> None:
    reference = pipeline.self_refer(
        **{
            "service": "thrive",
            "patient.postcode": "ME14 1XX",
            "clinical.pregnancy_status": "postnatal",
            "clinical.expected_delivery_date": None,
            "clinical.delivery_date": days_from_today(-184),
        }
    )
    (message,) = eventually(lambda: mentioning(standins.records("notify"), reference))
    assert message["email_address"] == SELF_PATIENT["email"]
    assert "can refer you to Thrive" in message["personalisation"]["body"]
    pipeline.settled()
    assert len(mentioning(standins.records("notify"), reference)) == 1
    assert mentioning(standins.records("email"), reference) == []  # no referrer to tell
    assert identifiers_in(pipeline.logs()) == []


def ops(pipeline: Pipeline, *args: str) -> str:
    """The `referrals` ops command, pointed at this pipeline's namespace."""
    env = {k: v for k, v in pipeline.env.items() if k.endswith(("_DB_SCHEMA", "_PREFIX"))}
    result = CliRunner().invoke(ops_cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_operators_see_topics_timelines_and_events(pipeline: Pipeline, standins: Standins) -> None:
    answer = pipeline.submit(gp_referral())
    reference = answer["tracking_reference"]
    eventually(lambda: mentioning(standins.records("webhook"), reference))
    timeline = eventually(  # the notifier's sends, and intake's keeping of the decision
        lambda: (
            len(re.findall(r": (sent|delivered) after", out := ops(pipeline, "show", reference)))
            >= 2
            and "promise: due" in out
            and out
        )
    )
    assert "received " + reference in timeline
    assert "routed to pelvic-bsol by rules" in timeline
    assert re.search(r"patient by sms \(routed\): (sent|delivered)", timeline)
    assert "clinic by webhook (routed): sent" in timeline
    assert "accept promise: due " in timeline  # the clock routing started

    topics = ops(pipeline, "topics")
    received = next(line for line in topics.splitlines() if "referrals.received " in line)
    assert received.split()[1:3] == ["6", "1"]  # partitions, end offset
    tail = ops(pipeline, "tail", "referrals.routed", "--from-beginning", "--limit", "1")
    assert "ReferralRouted" in tail
    assert reference in tail
    assert identifiers_in(topics + tail + timeline) == []


def test_a_dead_lettered_notification_is_replayed_once_after_the_fix(
    pipeline: Pipeline, standins: Standins
) -> None:
    standins.fault("notify", times=10, status=400)  # Notify refuses: a permanent failure
    reference = pipeline.submit(gp_referral())["tracking_reference"]
    listed = eventually(
        lambda: (out := ops(pipeline, "dlq", "list")).strip() != "no dead letters" and out
    )
    assert "patient/sms" in listed
    letter_id = listed.split()[0]
    assert len(mentioning(standins.records("webhook"), reference)) == 1  # the clinic was told
    standins.reset()  # the cause is fixed (and the stand-ins' records start again)

    with browser_page() as page:  # an operations person, signed in as herself, sends it back
        page.goto(f"{pipeline.intake.url}/operations")
        sign_in_at_provider(page, "ops.jones")
        expect(page.get_by_role("heading", level=1)).to_have_text("Operations")
        assert_accessible(page)
        letter = page.locator(".nhsuk-card", has_text=letter_id)
        letter.get_by_role("button", name="Send it back").click()
        expect(page.get_by_role("alert")).to_contain_text("Enter why")
        assert_accessible(page)
        letter = page.locator(".nhsuk-card", has_text=letter_id)
        letter.get_by_label("Why it can be sent back now").fill("Notify's template fixed")
        letter.get_by_role("button", name="Send it back").click()
        expect(page.get_by_role("status")).to_contain_text("Dead letter sent back")
    eventually(lambda: mentioning(standins.records("notify"), reference))
    fixed = ("--by", "ops.jones", "--reason", "checking a second replay")
    assert "replayed" in ops(pipeline, "dlq", "replay", letter_id, *fixed)  # changes nothing
    pipeline.settled()
    assert len(mentioning(standins.records("notify"), reference)) == 1
    assert mentioning(standins.records("webhook"), reference) == []  # not told twice
    timeline = ops(pipeline, "show", reference)
    assert timeline.count("replayed by Sam Jones (") == 1  # audited, naming her
    assert timeline.count("replayed by ops.jones: checking a second replay") == 1
    with browser_page() as page:  # the auditor reads it: each replay once, newest first
        page.goto(f"{pipeline.intake.url}/audit?reference={reference}")
        sign_in_at_provider(page, "auditor")
        expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
        assert_accessible(page)
        rows = page.locator("tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("ops.jones")
        expect(rows.nth(1)).to_contain_text("Sam Jones")
        expect(rows.nth(1)).to_contain_text("Notify's template fixed")


def test_the_sample_referrals_reach_every_outcome_with_the_right_messages(
    pipeline: Pipeline,
) -> None:
    clinic = run_cli(
        "intake", "keys", "create", "--organisation", "pelvic-bsol", "--scope", "clinic",
        env=pipeline.env,
    )  # fmt: skip
    shown = ops(
        pipeline, "demo", "--intake-url", pipeline.intake.url, "--api-key", pipeline.key,
        "--clinic-key", clinic,
    )  # fmt: skip
    blocks = {block.split("  [")[0]: block for block in shown.strip().split("\n\n")}
    expected = {
        "GP: new mother, Birmingham, pelvic health": [
            "routed to pelvic-bsol",
            "patient by sms (routed): sent",
            "clinic by webhook (routed): sent",
        ],
        "Consultant: cardiac, pregnant, maternal medicine": [
            "routed to mms-kent-medway, urgent",
            "clinic by webhook (routed): sent",
        ],
        "GP: Thrive before talking therapies": [
            "rejected by rules (thrive.completed-talking-therapies)",
            "referrer by email (rejected): sent",
        ],
        "GP: fertility with prior approval": ["routed to fertility-kent-medway"],
        "GP: pelvic health, area not in the directory": [
            "needs-triage by rules",
            "patient by sms (needs-triage): sent",
        ],
        "Self-referral: contraception, Maidstone": [
            "routed to hub-west-kent",
            "patient by email (routed): sent",
        ],
        "Self-referral: Thrive (needs a professional)": [
            "thrive.referrer-is-professional",
            "patient by sms (rejected): sent",
        ],
        "GP: pelvic health, then accepted by the clinic": [
            "accepted by clinic pelvic-bsol: now accepted",
        ],
        "GP: pelvic health, then returned by the clinic": [
            "returned by clinic pelvic-bsol: now returned (wrong-service",
            "referrer by email (returned): sent",
        ],
        "GP: pelvic health, then cancelled by the GP": [
            "cancelled by referrer M85001: now cancelled (sent-in-error",
            "referrer by email (cancelled): sent",
        ],
        "GP: pelvic health, all the way: accepted, booked, seen, discharged": [
            "booked by clinic pelvic-bsol: now booked [in-person,",
            "attended by clinic pelvic-bsol: now attended",
            "discharged by clinic pelvic-bsol: now discharged (advice-and-self-management",
            "patient by sms (booked): sent",
            "referrer by email (discharged): sent",
        ],
    }
    for name, lines in expected.items():
        for line in lines:  # a message to her is sent, then delivered once Notify says so
            delivered = line.replace(": sent", ": delivered") if "patient by" in line else line
            assert line in blocks[name] or delivered in blocks[name], blocks[name]
    assert "referrer by email" not in blocks["Self-referral: Thrive (needs a professional)"]
    assert identifiers_in(shown) == []


def test_the_clinic_accepts_and_the_referrer_cancels_and_each_is_told_once(
    pipeline: Pipeline, standins: Standins
) -> None:
    """Through the three processes: a routed referral accepted by its clinic (the woman hears
    it will contact her), another cancelled by its GP (the clinic that held it and the GP are
    told); each message once, and nothing told of a step twice."""
    clinic = run_cli(
        "intake", "keys", "create", "--organisation", "pelvic-bsol", "--scope", "clinic",
        env=pipeline.env,
    )  # fmt: skip
    first, second = pipeline.submit(gp_referral()), pipeline.submit(gp_referral())
    for answer in (first, second):
        eventually(
            lambda a=answer: mentioning(standins.records("webhook"), a["tracking_reference"])
        )
        pipeline.stands(answer, "routed")

    def act(key: str, path: str, **body: str) -> httpx.Response:
        return httpx.post(
            f"{pipeline.intake.url}{path}", json=body or None,
            headers={"Authorization": f"Bearer {key}"},
        )  # fmt: skip

    accepted = act(clinic, f"{first['status_url']}/accept")
    assert (accepted.status_code, accepted.json()["status"]) == (200, "accepted")
    cancelled = act(pipeline.key, f"{second['status_url']}/cancel", reason_code="sent-in-error")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")

    def to_patient(reference: str) -> list[dict[str, Any]]:
        return mentioning(standins.records("notify"), reference)

    eventually(lambda: len(to_patient(first["tracking_reference"])) == 2)  # routed, accepted
    hooks = eventually(
        lambda: (
            len(found := mentioning(standins.records("webhook"), second["tracking_reference"])) == 2
            and found
        )
    )
    emails = eventually(lambda: mentioning(standins.records("email"), second["tracking_reference"]))
    pipeline.settled()
    assert len(to_patient(first["tracking_reference"])) == 2
    assert (
        "will contact you" in to_patient(first["tracking_reference"])[-1]["personalisation"]["body"]
    )
    assert [
        h["body"]["event"]
        for h in mentioning(standins.records("webhook"), second["tracking_reference"])
    ] == [
        "referral.routed",
        "referral.cancelled",
    ]
    assert hooks[-1]["body"]["status"] == "cancelled"
    assert len(emails) == 1
    assert len(to_patient(second["tracking_reference"])) == 1  # routed only: her GP cancelled
    assert identifiers_in(pipeline.logs()) == []


def sign_in_at_provider(page: Page, username: str) -> None:
    """On a staff page's sign-in: to the identity provider's own login page, and back."""
    page.get_by_role("button", name="Sign in").click()
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD.format(username=username))
    page.locator("#kc-login").click()


def test_a_clinic_works_through_its_worklist_in_a_real_browser(
    pipeline: Pipeline, standins: Standins
) -> None:
    """A clinician signs in as herself at the identity provider, opens the oldest referral,
    accepts it, books her in the NHS date input, without JavaScript; the woman is told once
    of each, and the history names the clinician."""
    answer = pipeline.submit(gp_referral())
    reference = answer["tracking_reference"]
    eventually(lambda: mentioning(standins.records("webhook"), reference))
    pipeline.stands(answer, "routed")
    with browser_page() as page:
        page.goto(f"{pipeline.intake.url}/clinic")
        assert_accessible(page)
        sign_in_at_provider(page, "clin.bsol")
        expect(page.get_by_role("heading", level=1)).to_have_text("Referrals for pelvic-bsol")
        page.get_by_role("link", name=reference).click()
        expect(page.locator("#status")).to_have_text("routed")
        assert_accessible(page)
        page.get_by_role("button", name="Accept: we will contact her").click()
        expect(page.get_by_role("status")).to_contain_text("Referral accepted")
        page.get_by_role("link", name="To book").click()
        page.get_by_role("link", name=reference).click()
        assert_accessible(page)  # the booking form
        when = page.get_by_role("group", name="Date")
        for part, value in date_fields("appointment", days_from_today(10)).items():
            when.get_by_label(part.rsplit("-", 1)[1].capitalize()).fill(value)
        page.get_by_label("Time").fill("14:30")
        page.get_by_label("By video call").check()
        page.get_by_label("Where, in words she can use").fill("We will email you a link")
        page.get_by_role("button", name="Book and tell her").click()
        expect(page.get_by_role("status")).to_contain_text("Appointment booked")
        page.get_by_role("link", name="Booked").click()
        expect(page.get_by_role("link", name=reference)).to_be_visible()
        assert_accessible(page)
    messages = eventually(
        lambda: len(found := mentioning(standins.records("notify"), reference)) == 3 and found
    )
    pipeline.settled()
    assert len(mentioning(standins.records("notify"), reference)) == 3
    assert "will contact you" in messages[1]["personalisation"]["body"]
    assert "you have an NHS appointment" in messages[2]["personalisation"]["body"]
    assert "by video call" in messages[2]["personalisation"]["body"]
    status = httpx.get(
        f"{pipeline.intake.url}{answer['status_url']}",
        headers={"Authorization": f"Bearer {pipeline.key}"},
    ).json()
    assert [h["by_person"] for h in status["history"]][-2:] == ["Priya Anand"] * 2
    trail = ops(pipeline, "audit", reference)  # the audit trail: each of her steps once
    assert [line.split()[3:6] for line in trail.splitlines()[:-1]] == [
        ["accepted", "by", "Priya"], ["booked", "by", "Priya"],
    ]  # fmt: skip
    assert "Priya Anand" in ops(pipeline, "show", reference)
    assert identifiers_in(pipeline.logs()) == []


def test_a_return_and_an_amendment_are_told_once_to_the_people_they_concern(
    pipeline: Pipeline, standins: Standins
) -> None:
    """Returned to the referrer: the GP hears why, once. Amended without a change routing
    depends on: the clinic that holds it hears, once, and it keeps its place."""
    clinic = run_cli(
        "intake", "keys", "create", "--organisation", "pelvic-bsol", "--scope", "clinic",
        env=pipeline.env,
    )  # fmt: skip
    returned, amended = pipeline.submit(gp_referral()), pipeline.submit(gp_referral())
    for answer in (returned, amended):
        eventually(
            lambda a=answer: mentioning(standins.records("webhook"), a["tracking_reference"])
        )
        pipeline.stands(answer, "routed")
    back = httpx.post(
        f"{pipeline.intake.url}{returned['status_url']}/return",
        json={"reason_code": "wrong-service"},
        headers={"Authorization": f"Bearer {clinic}"},
    )
    assert back.json()["status"] == "returned"
    changed = httpx.put(
        f"{pipeline.intake.url}{amended['status_url']}",
        json=gp_referral(**{"patient.mobile": "07700900999"}),
        headers={"Authorization": f"Bearer {pipeline.key}"},
    )
    assert (changed.json()["status"], changed.json()["rerouted"]) == ("routed", False)

    (email,) = eventually(
        lambda: mentioning(standins.records("email"), returned["tracking_reference"])
    )
    hooks = eventually(
        lambda: (
            len(found := mentioning(standins.records("webhook"), amended["tracking_reference"]))
            == 2
            and found
        )
    )
    pipeline.settled()
    assert len(mentioning(standins.records("email"), returned["tracking_reference"])) == 1
    assert "not the right one" in str(email)
    assert [h["body"]["event"] for h in hooks] == ["referral.routed", "referral.amended"]
    assert len(mentioning(standins.records("webhook"), amended["tracking_reference"])) == 2
    assert identifiers_in(pipeline.logs()) == []


def test_a_woman_cancels_her_own_request_and_she_and_the_clinic_are_told_once(
    pipeline: Pipeline, standins: Standins
) -> None:
    reference = pipeline.self_refer()
    eventually(lambda: mentioning(standins.records("webhook"), reference))
    eventually(lambda: mentioning(standins.records("notify"), reference))
    with httpx.Client(base_url=pipeline.intake.url) as browser:
        page = browser.get("/self-referral/cancel")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        answer = browser.post(
            "/self-referral/cancel",
            data={
                "csrf_token": token.group(1),
                "tracking_reference": reference,
                **date_fields("date_of_birth", SELF_PATIENT["date_of_birth"]),
                "postcode": SELF_PATIENT["postcode"],
            },
        )
        assert answer.status_code == 200
    told = eventually(
        lambda: len(found := mentioning(standins.records("notify"), reference)) == 2 and found
    )
    hooks = eventually(
        lambda: len(found := mentioning(standins.records("webhook"), reference)) == 2 and found
    )
    pipeline.settled()
    assert len(mentioning(standins.records("notify"), reference)) == 2  # routed, then cancelled
    assert "has been cancelled, as you asked" in str(told[-1])
    assert [h["body"]["event"] for h in hooks] == ["referral.routed", "referral.cancelled"]
    assert identifiers_in(pipeline.logs()) == []


def surgery(pipeline: Pipeline, standins: Standins) -> str:
    """The sample messages' surgery (G82080): its API key, and its BaRS endpoint at the
    stand-ins."""
    key = run_cli("intake", "keys", "create", "--organisation", "G82080", env=pipeline.env)
    endpoint = f"{standins.url}/bars/G82080/$process-message"
    run_cli("intake", "endpoints", "set", "--organisation", "G82080", "--url", endpoint,
            env=pipeline.env)  # fmt: skip
    return key.strip()


def send_bars(pipeline: Pipeline, key: str, service: str) -> dict[str, Any]:
    """A fresh sample message for `service`; the referral as intake's answer shows it."""
    answer = httpx.post(
        f"{pipeline.intake.url}/FHIR/R4/$process-message",
        content=json.dumps(fresh(service)).encode(),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/fhir+json",
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
        },
    )
    assert answer.status_code == 200, answer.text
    referral: dict[str, Any] = answer.json()["entry"][1]["resource"]
    return referral


def test_a_bars_message_reaches_its_clinic_and_its_patient_once(
    pipeline: Pipeline, standins: Standins
) -> None:
    """The curl in docs/using.md: a committed BaRS sample, from a surgery with its own key and its
    own BaRS endpoint, through all three processes: the clinic and the patient are told once,
    and the surgery's system hears the decision and each of the clinic's steps to discharge,
    once each (the booking with its Appointment; the discharge as a completed referral)."""
    surgery_key = surgery(pipeline, standins)
    referral = send_bars(pipeline, surgery_key, "menopause")
    reference = next(
        i["value"] for i in referral["identifier"] if i["system"].endswith("tracking-reference")
    )
    hook = eventually(lambda: mentioning(standins.records("webhook"), reference))
    sms = eventually(lambda: mentioning(standins.records("notify"), reference))
    pipeline.settled()
    assert len(mentioning(standins.records("webhook"), reference)) == 1
    assert len(mentioning(standins.records("notify"), reference)) == 1
    assert hook[0]["site"] == "hub-west-kent"
    assert sms[0]["phone_number"] == GP_PATIENT["mobile"]
    shown = httpx.get(
        f"{pipeline.intake.url}/FHIR/R4/ServiceRequest/{referral['id']}",
        headers={
            "Authorization": f"Bearer {surgery_key}",
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
        },
    ).json()
    assert (shown["status"], shown["extension"][0]["valueCode"]) == ("active", "routed")
    assert shown["performer"][0]["identifier"]["value"] == "hub-west-kent"

    def news_to_surgery() -> list[str]:
        return [
            entry["resource"]["extension"][0]["valueCode"]
            for record in standins.records("bars")
            for entry in record["body"]["entry"]
            if entry["resource"].get("id") == referral["id"]
        ]

    eventually(lambda: news_to_surgery() == ["routed"])
    pipeline.stands(referral, "routed", surgery_key)
    clinic = run_cli(
        "intake", "keys", "create", "--organisation", "hub-west-kent", "--scope", "clinic",
        env=pipeline.env,
    )  # fmt: skip
    appointment = {
        "starts_at": f"{days_from_today(9)}T09:30:00+00:00",
        "mode": "telephone",
        "place": "We will phone you",
    }
    journey: list[tuple[str, dict[str, Any] | None]] = [
        ("accept", None),
        ("book", {"appointment": appointment}),
        ("attended", None),
        ("discharge", {"outcome_code": "treated"}),
    ]
    for action, body in journey:
        done = httpx.post(
            f"{pipeline.intake.url}/v1/referrals/{referral['id']}/{action}", json=body,
            headers={"Authorization": f"Bearer {clinic}"},
        )  # fmt: skip
        assert done.status_code == 200, done.text
    told = ["routed", "accepted", "booked", "attended", "discharged"]
    eventually(lambda: news_to_surgery() == told)
    pipeline.settled()
    assert news_to_surgery() == told
    bundles = [r["body"] for r in standins.records("bars")]
    booked = next(b for b in bundles if len(b["entry"]) == 3)
    assert booked["entry"][2]["resource"]["resourceType"] == "Appointment"
    assert booked["entry"][2]["resource"]["start"] == appointment["starts_at"]
    finished = bundles[-1]["entry"][1]["resource"]
    assert finished["status"] == "completed"
    assert identifiers_in(json.dumps(standins.records("bars"))) == []
    assert identifiers_in(pipeline.logs()) == []


def test_a_bars_sender_that_refused_hears_once_after_the_fix_and_a_replay(
    pipeline: Pipeline, standins: Standins
) -> None:
    """The sender's endpoint refuses (a permanent failure): the message is dead-lettered,
    nothing else is held back, and a replay after the fix delivers it once."""
    surgery_key = surgery(pipeline, standins)
    standins.fault("bars", times=10, status=403)
    referral_id = send_bars(pipeline, surgery_key, "contraception")["id"]
    listed = eventually(
        lambda: (out := ops(pipeline, "dlq", "list")).strip() != "no dead letters" and out
    )
    assert "referrer/bars" in listed
    letter_id = listed.split()[0]
    standins.reset()  # the sender fixed its end

    def to_sender() -> list[dict[str, Any]]:
        return [r for r in standins.records("bars") if referral_id in json.dumps(r["body"])]

    assert "replayed" in ops(pipeline, "dlq", "replay", letter_id)
    eventually(to_sender)
    ops(pipeline, "dlq", "replay", letter_id)  # a second replay changes nothing
    pipeline.settled()
    assert len(to_sender()) == 1


def test_a_referral_is_followed_to_discharge_and_each_step_is_told_once_to_those_it_concerns(
    pipeline: Pipeline, standins: Standins
) -> None:
    """Through the three processes: routed, accepted, booked, missed, booked again, seen and
    discharged. She hears each step but her attendance; her GP hears the booking, the missed
    appointment and the outcome; the clinic hears only what others did (its referral)."""
    clinic = run_cli(
        "intake", "keys", "create", "--organisation", "pelvic-bsol", "--scope", "clinic",
        env=pipeline.env,
    )  # fmt: skip
    answer = pipeline.submit(gp_referral())
    reference = answer["tracking_reference"]
    eventually(lambda: mentioning(standins.records("webhook"), reference))
    pipeline.stands(answer, "routed")
    appointment = {
        "starts_at": f"{days_from_today(14)}T10:00:00+00:00",
        "mode": "in-person",
        "place": "Room 4, Solihull Hospital",
    }
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("accept", None),
        ("book", {"appointment": appointment}),
        ("did-not-attend", None),
        ("book", {"appointment": {**appointment, "mode": "video", "place": "A link by email"}}),
        ("attended", None),
        ("discharge", {"outcome_code": "referred-on", "referred_to": "Urogynaecology, QEH"}),
    ]
    for action, body in steps:
        done = httpx.post(
            f"{pipeline.intake.url}{answer['status_url']}/{action}", json=body,
            headers={"Authorization": f"Bearer {clinic}"},
        )  # fmt: skip
        assert done.status_code == 200, done.text

    def to(kind: str) -> list[dict[str, Any]]:
        return mentioning(standins.records(kind), reference)

    eventually(lambda: len(to("notify")) == 6 and len(to("email")) == 4)
    pipeline.settled()
    texts = [r["personalisation"]["body"] for r in to("notify")]
    assert len(texts) == 6  # routed, accepted, booked, missed, booked again, discharged
    assert "you have an NHS appointment" in texts[2]
    assert "we missed you" in texts[3].lower()
    assert "is now complete" in texts[5]
    emails = [str(r) for r in to("email")]
    assert len(emails) == 4  # booked, missed, booked again, the outcome
    assert "Urogynaecology, QEH" in emails[-1]
    assert len(to("webhook")) == 1  # the clinic was told of the referral, not of its own steps
    status = httpx.get(
        f"{pipeline.intake.url}{answer['status_url']}",
        headers={"Authorization": f"Bearer {pipeline.key}"},
    ).json()
    assert status["status"] == "discharged"
    assert status["actions"] == []
    assert identifiers_in(pipeline.logs()) == []


def test_a_person_at_triage_routes_what_the_rules_could_not_and_she_is_told_once(
    pipeline: Pipeline, standins: Standins
) -> None:
    """Through the three processes: a referral from an area the directory does not know waits
    for triage; the triage team routes it on its page; the router announces it; the woman and
    the clinic are told once, and the history names who decided."""
    answer = pipeline.submit(gp_referral(**{"patient.postcode": "ZZ1 1ZZ"}))
    reference = answer["tracking_reference"]
    eventually(lambda: mentioning(standins.records("notify"), reference))  # being looked at
    pipeline.stands(answer, "needs-triage")
    with browser_page() as page:
        page.goto(f"{pipeline.intake.url}/triage")
        sign_in_at_provider(page, "triage.lead")
        expect(page.get_by_role("heading", level=1)).to_have_text("Referrals awaiting triage")
        assert_accessible(page)
        page.get_by_role("link", name=reference).click()
        page.get_by_role("button", name="Send the decision").click()
        expect(page.get_by_role("alert")).to_contain_text("Choose a site")
        assert_accessible(page)
        page.get_by_label("Birmingham and Solihull perinatal pelvic health clinic").check()
        page.get_by_label("Why", exact=True).fill("A new estate in Birmingham.")
        page.get_by_role("button", name="Send the decision").click()
        expect(page.get_by_role("status")).to_contain_text("Decision sent")
    eventually(lambda: mentioning(standins.records("webhook"), reference))
    eventually(lambda: len(mentioning(standins.records("notify"), reference)) == 2)
    pipeline.settled()
    assert len(mentioning(standins.records("notify"), reference)) == 2  # looked at, then routed
    assert len(mentioning(standins.records("webhook"), reference)) == 1
    status = httpx.get(
        f"{pipeline.intake.url}{answer['status_url']}",
        headers={"Authorization": f"Bearer {pipeline.key}"},
    ).json()
    assert status["status"] == "routed"
    assert status["history"][-1]["by_person"] == "Hannah Moss"
    trail = ops(pipeline, "audit", reference).splitlines()
    assert [line.split()[3:6] for line in trail[:-1]] == [["decided", "by", "Hannah"]]
    assert identifiers_in(pipeline.logs()) == []


def test_a_logout_at_the_identity_provider_ends_her_session_here(pipeline: Pipeline) -> None:
    """Signed in through the real provider, then signed out there (as when her account is
    suspended, or she signs out of another service): its back-channel logout reaches intake,
    whose pages then ask her to sign in again."""
    admin = keycloak_admin()
    (client,) = admin.get("/clients", params={"clientId": "intake-staff"}).json()
    client["attributes"]["backchannel.logout.url"] = (
        f"{pipeline.intake.url}/staff/back-channel-logout"
    )
    assert admin.put(f"/clients/{client['id']}", json=client).status_code == 204

    async def signed_in_and_out() -> tuple[int, int]:
        async with httpx.AsyncClient(base_url=pipeline.intake.url) as browser:
            await staff_sign_in(browser, "clin.kent")
            before = (await browser.get("/clinic")).status_code
            (user,) = admin.get("/users", params={"username": "clin.kent"}).json()
            assert admin.post(f"/users/{user['id']}/logout").status_code == 204
            after = (await browser.get("/clinic")).status_code
            return before, after

    assert asyncio.run(signed_in_and_out()) == (200, 401)


def keycloak_admin() -> httpx.Client:
    """The local provider's admin API, for the realm the staff sign in to."""
    base = "http://127.0.0.1:18080"
    token = httpx.post(
        f"{base}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": "admin",
              "password": "local-admin"},
    ).json()["access_token"]  # fmt: skip
    return httpx.Client(
        base_url=f"{base}/admin/realms/womens-health",
        headers={"Authorization": f"Bearer {token}"},
    )
