"""The operations and audit pages through the real intake, Kafka, PostgreSQL and identity
provider: a person with the operations role signs in as herself and sees the referrals
overdue now, sends a dead letter back to its topic (once, marked as a replay), and erases a
woman's details on request; each action is in the audit trail under her name, which a person
with the audit role reads (and nothing else). Other roles are refused, and every action
needs its CSRF token."""

from __future__ import annotations

import base64
import re
import uuid

from aiokafka import AIOKafkaProducer

from intake.web.csrf import FIELD
from shared import topics
from shared.contracts import DeadLetter
from shared.dead_letters import REPLAYED_FROM
from tests.integration.intake.test_clocks import due_at, fire, store
from tests.integration.intake.test_lifecycle_api import routed_referral
from tests.support import staff
from tests.support.kafka_reader import wait_for
from tests.support.running import RunningIntake

OPS_NAME, AUDITOR = "Sam Jones", "auditor"


def csrf(page: str) -> str:
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def dead_letter(intake: RunningIntake, original: bytes, *, sealed: bool = False) -> uuid.UUID:
    """A dead letter on the notifier's dead-letter topic, as a consumer would have left it,
    its original a real event from the topic `referrals.received`."""
    letter = DeadLetter(
        correlation_id=str(uuid.uuid4()),
        source_topic=intake.topic("referrals.received"),
        source_partition=0,
        source_offset=0,
        reason="the provider refused: template missing",
        original_base64=base64.b64encode(original).decode(),
        original_sealed=sealed,
    )
    producer = AIOKafkaProducer(bootstrap_servers=intake.servers.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.NOTIFICATION_DLQ.qualified(intake.prefix), letter.model_dump_json().encode()
        )
    finally:
        await producer.stop()
    return letter.event_id


async def test_operations_see_what_is_overdue_replay_a_dead_letter_and_erase_on_request(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    late = await routed_referral(intake, referrer)
    await fire(store(intake), await due_at(intake, late["referral_id"]))
    (received,) = await intake.wait_events("referrals.received", late["referral_id"])
    replayable = await dead_letter(intake, received.value)
    sealed = await dead_letter(intake, b"sealed bytes", sealed=True)

    assert (await intake.client.get("/operations")).status_code == 401
    await staff.sign_in(intake.client, "clin.bsol", "/operations")
    assert (await intake.client.get("/operations")).status_code == 403  # a clinician
    await staff.sign_in(intake.client, "ops.jones", "/operations")
    assert (await intake.client.get("/clinic")).status_code == 403  # operations: no clinic
    assert (await intake.client.get("/audit")).status_code == 403  # nor the audit trail

    page = (await intake.client.get("/operations")).text
    overdue = page.split('id="overdue"')[1].split('id="dead-letters"')[0]
    assert late["tracking_reference"] in overdue
    assert "accept" in overdue
    assert f'name="dead_letter" value="{replayable}"' in page
    assert str(sealed) in page
    assert f'value="{sealed}"' not in page
    token = csrf(page)

    forged = await intake.client.post(
        "/operations/replay", data={FIELD: "forged", "dead_letter": str(replayable), "reason": "x"}
    )
    assert forged.status_code == 403
    no_reason = await intake.client.post(
        "/operations/replay", data={FIELD: token, "dead_letter": str(replayable)}
    )
    assert no_reason.status_code == 422
    assert f'href="#reason-{replayable}">Enter why' in no_reason.text
    refused = await intake.client.post(
        "/operations/replay", data={FIELD: token, "dead_letter": str(sealed), "reason": "fixed"}
    )
    assert refused.status_code == 422
    assert "cannot be replayed" in refused.text
    sent = await intake.client.post(
        "/operations/replay",
        data={FIELD: token, "dead_letter": str(replayable), "reason": "Template restored"},
    )
    assert sent.status_code == 303
    assert "Dead letter sent back" in (await intake.client.get(sent.headers["location"])).text
    replayed = await wait_for(
        intake.servers.kafka_bootstrap,
        intake.topic("referrals.received"),
        lambda r: (REPLAYED_FROM, str(replayable).encode()) in list(r.headers),
    )
    assert [r.value for r in replayed] == [received.value]  # its original, once

    erase = {FIELD: token, "reference": late["tracking_reference"], "reason": "Asked by letter"}
    active = await intake.client.post("/operations/erase", data=erase)
    assert active.status_code == 422
    assert 'href="#force">This referral is still routed' in active.text
    assert late["tracking_reference"] in active.text  # what she typed is kept
    unknown = await intake.client.post("/operations/erase", data=erase | {"reference": "WH-0"})
    assert unknown.status_code == 422
    assert "No referral has this reference" in unknown.text
    assert (
        await intake.client.post("/operations/erase", data=erase | {FIELD: "forged"})
    ).status_code == 403
    erased = await intake.client.post("/operations/erase", data=erase | {"force": "yes"})
    assert erased.status_code == 303
    assert erased.headers["location"].endswith("done=erased")
    shown = await intake.client.get(f"/v1/referrals/{late['referral_id']}", headers={
        "Authorization": f"Bearer {referrer}"})  # fmt: skip
    assert shown.json()["details_erased_at"]

    await staff.sign_in(intake.client, AUDITOR, "/audit")
    assert (await intake.client.get("/operations")).status_code == 403  # audit reads only
    trail = await intake.client.get("/audit", params={"reference": late["tracking_reference"]})
    rows = re.findall(r"<tr><td>.*?</tr>", trail.text)
    assert [(("erased" in r), ("replayed" in r)) for r in rows] == [(True, False), (False, True)]
    assert all(OPS_NAME in r for r in rows)  # each names the person, newest first
    assert "Asked by letter" in rows[0]
    assert "Template restored" in rows[1]
