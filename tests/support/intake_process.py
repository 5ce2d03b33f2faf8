"""A real intake process for tests that need patient contacts (the notifier's)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from devstack.samples import gp_referral, self_referral
from devstack.services import ServiceProcess, run_cli
from intake.adapters.self_referral_codec import encode
from intake.domain.tracking import new_tracking_reference
from shared.kafka import build_broker, publish_event
from shared.submission import ReferralSubmission
from tests.support.keys import INTAKE_PUBLIC_KEY
from tests.support.servers import Servers


class Intake:
    def __init__(self, process: ServiceProcess, env: dict[str, str], key: str) -> None:
        self.process, self.env, self.key = process, env, key
        self.notifier_key = run_cli(
            "intake", "keys", "create", "--organisation", "NOTIFIER", "--scope", "notifier", env=env
        )
        self.clinic_key = run_cli(
            "intake",
            "keys",
            "create",
            "--organisation",
            "pelvic-bsol",
            "--scope",
            "clinic",
            env=env,
        )

    def gp_referral(self, **changes: Any) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.process.url}/v1/referrals",
            json=gp_referral(**changes),
            headers={"Authorization": f"Bearer {self.key}"},
        )
        assert answer.status_code == 202, answer.text
        return dict(answer.json())

    async def self_referral(self, servers: Servers, **changes: Any) -> dict[str, Any]:
        """Through intake's self-referral topic, as a partner form would; returns once
        intake has stored it."""
        referral_id, reference = uuid.uuid4(), new_tracking_reference()
        event = encode(
            ReferralSubmission.model_validate(self_referral(**changes)),
            INTAKE_PUBLIC_KEY,
            source="test-form",
            correlation_id=str(uuid.uuid4()),
            referral_id=referral_id,
            tracking_reference=reference,
        )
        topic = self.env["KAFKA_TOPIC_PREFIX"] + "referrals.self-referral"
        async with build_broker(servers.kafka_bootstrap, "test-form") as broker:
            await publish_event(broker, event, key=str(referral_id), topic=topic)
        url = f"{self.process.url}/v1/referrals/contacts"
        lookup = {"referral_ids": [str(referral_id)]}
        headers = {"Authorization": f"Bearer {self.notifier_key}"}
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 20
            while not (await client.post(url, json=lookup, headers=headers)).json()["contacts"]:
                assert time.monotonic() < deadline, "intake did not store the self-referral"
                await asyncio.sleep(0.2)
        return {"referral_id": str(referral_id), "tracking_reference": reference}
