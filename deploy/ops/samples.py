"""Sample referrals covering every outcome, for the run command to show the system working.
All people and numbers here are fictional (NHS numbers from the test range rules)."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any

import httpx

from intake.domain.tracking import new_tracking_reference
from ops.settings import OpsSettings
from ops.timeline import timeline
from shared.clock import LONDON, days_from_today
from shared.contracts import SelfReferralSubmitted
from shared.kafka import build_broker, publish_event
from shared.sealed import seal
from shared.topics import SELF_REFERRAL_SUBMITTED

_PATIENT = {
    "nhs_number": "9434765919",
    "given_name": "Sample",
    "family_name": "Patient",
    "date_of_birth": "1991-03-14",
    "sex_at_birth": "female",
    "postcode": "B1 1AA",
    "email": "sample.patient@example.com",
    "mobile": "07700900001",
    "contact_preferences": ["sms"],
}
_GP = {
    "role": "gp",
    "name": "Dr Sample",
    "organisation_code": "M85001",
    "contact_email": "referrals@example-practice.nhs.uk",
}


def _referral(
    service: str, referrer: dict[str, Any], postcode: str, clinical: dict[str, Any], **patient: Any
) -> dict[str, Any]:
    return {
        "service": service,
        "referrer": referrer,
        "patient": {**copy.deepcopy(_PATIENT), "postcode": postcode, **patient},
        "clinical": {"reason": "Sample referral.", **clinical},
    }


_SELF = {"role": "self"}
SAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "GP: new mother, Birmingham, pelvic health",
        "api",
        _referral(
            "pelvic-health",
            _GP,
            "B1 1AA",
            {"pregnancy_status": "postnatal", "delivery_date": days_from_today(-141)},
        ),
    ),
    (
        "Consultant: cardiac, pregnant, maternal medicine",
        "api",
        _referral(
            "maternal-medicine",
            {**_GP, "role": "consultant-obstetrician"},
            "CT1 2AA",
            {
                "pregnancy_status": "pregnant",
                "expected_delivery_date": days_from_today(120),
                "conditions": ["cardiac"],
            },
        ),
    ),
    (
        "GP: Thrive before talking therapies",
        "api",
        _referral(
            "thrive",
            _GP,
            "ME14 1XX",
            {
                "pregnancy_status": "postnatal",
                "delivery_date": days_from_today(-184),
                "completed_talking_therapies": False,
            },
        ),
    ),
    (
        "GP: fertility with prior approval",
        "api",
        _referral(
            "fertility",
            _GP,
            "ME14 1XX",
            {"pregnancy_status": "not-pregnant", "prior_approval_reference": "KM-PA-0001"},
        ),
    ),
    (
        "GP: pelvic health, area not in the directory",
        "api",
        _referral(
            "pelvic-health",
            _GP,
            "ZZ1 1AA",
            {"pregnancy_status": "pregnant", "expected_delivery_date": days_from_today(61)},
        ),
    ),
    (
        "Self-referral: contraception, Maidstone",
        "self",
        _referral(
            "contraception",
            _SELF,
            "ME14 1XX",
            {"pregnancy_status": "not-pregnant"},
            nhs_number=None,
            contact_preferences=["email"],
        ),
    ),
    (
        "Self-referral: Thrive (needs a professional)",
        "self",
        _referral(
            "thrive",
            _SELF,
            "ME14 1XX",
            {"pregnancy_status": "postnatal", "delivery_date": days_from_today(-215)},
            nhs_number=None,
        ),
    ),
]


# Samples that go on after routing: what the clinic (pelvic-bsol) or the GP then does.
_NEW_MOTHER = _referral(
    "pelvic-health",
    _GP,
    "B1 1AA",
    {"pregnancy_status": "postnatal", "delivery_date": days_from_today(-100)},
)
Step = tuple[str, dict[str, Any] | None]  # the action's path, its body (by the GP: cancel)


def _appointment(days: int) -> dict[str, Any]:
    """An appointment `days` from today at 10:00 in London: a sample date that never expires."""
    day = datetime.now(LONDON).date() + timedelta(days=days)
    starts = datetime.combine(day, dt_time(10, 0), tzinfo=LONDON)
    return {
        "appointment": {
            "starts_at": starts.isoformat(),
            "mode": "in-person",
            "place": "Room 4, Women's Health Hub, Solihull Hospital, Lode Lane",
        }
    }


AFTER_ROUTING: list[tuple[str, dict[str, Any], list[Step]]] = [
    ("GP: pelvic health, then accepted by the clinic", _NEW_MOTHER, [("accept", None)]),
    (
        "GP: pelvic health, then returned by the clinic",
        _NEW_MOTHER,
        [("return", {"reason_code": "wrong-service"})],
    ),
    (
        "GP: pelvic health, then cancelled by the GP",
        _NEW_MOTHER,
        [("cancel", {"reason_code": "sent-in-error"})],
    ),
    (
        "GP: pelvic health, all the way: accepted, booked, seen, discharged",
        _NEW_MOTHER,
        [
            ("accept", None),
            ("book", _appointment(14)),
            ("attended", None),
            ("discharge", {"outcome_code": "advice-and-self-management"}),
        ],
    ),
]
SAMPLES += [(name, "api", payload) for name, payload, _ in AFTER_ROUTING]
_DONE = {"accept": "accepted", "return": "returned", "cancel": "cancelled", "book": "booked",
         "attended": "attended", "discharge": "discharged"}  # fmt: skip
_LAST_STEP = {name: _DONE[steps[-1][0]] for name, _, steps in AFTER_ROUTING}


@dataclass
class Submitted:
    name: str
    tracking_reference: str
    referral_id: str | None = None


async def submit_all(settings: OpsSettings, intake_url: str, api_key: str) -> list[Submitted]:
    async with httpx.AsyncClient(base_url=intake_url, timeout=30) as client:
        public_key = (await client.get("/v1/self-referral-key")).json()["public_key"]
        done: list[Submitted] = []
        for name, channel, payload in SAMPLES:
            if channel == "api":
                answer = await client.post(
                    "/v1/referrals", json=payload, headers={"Authorization": f"Bearer {api_key}"}
                )
                answer.raise_for_status()
                body = answer.json()
                done.append(Submitted(name, body["tracking_reference"], body["referral_id"]))
            else:
                done.append(Submitted(name, await _self_refer(settings, public_key, payload)))
        return done


async def act_after_routing(
    intake_url: str, api_key: str, clinic_key: str, submitted: list[Submitted], within: float = 60
) -> None:
    """Once each AFTER_ROUTING sample is routed, what its clinic or GP does with it, step by
    step."""
    actions = {name: steps for name, _, steps in AFTER_ROUTING}
    async with httpx.AsyncClient(base_url=intake_url, timeout=30) as client:
        for sample in submitted:
            if sample.name not in actions or sample.referral_id is None:
                continue
            url = f"/v1/referrals/{sample.referral_id}"
            gp = {"Authorization": f"Bearer {api_key}"}
            deadline = time.monotonic() + within
            while (await client.get(url, headers=gp)).json()["status"] != "routed":
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{sample.name}: not routed within {within} s")
                await asyncio.sleep(0.3)
            for action, body in actions[sample.name]:
                key = api_key if action == "cancel" else clinic_key
                answer = await client.post(
                    f"{url}/{action}", json=body, headers={"Authorization": f"Bearer {key}"}
                )
                answer.raise_for_status()


async def _self_refer(settings: OpsSettings, public_key: str, payload: dict[str, Any]) -> str:
    reference = new_tracking_reference()
    payload = {**payload, "patient": {k: v for k, v in payload["patient"].items() if v is not None}}
    event = SelfReferralSubmitted(
        correlation_id=str(uuid.uuid4()),
        source="sample-partner-form",
        referral_id=uuid.uuid4(),
        tracking_reference=reference,
        sealed_submission=seal(public_key, json.dumps(payload).encode()),
    )
    async with build_broker(settings.kafka_bootstrap_servers, "referrals-demo") as broker:
        await publish_event(
            broker,
            event,
            key=str(event.referral_id),
            topic=SELF_REFERRAL_SUBMITTED.qualified(settings.kafka_topic_prefix),
        )
    return reference


async def outcomes(
    settings: OpsSettings, submitted: list[Submitted], within: float = 60
) -> list[tuple[Submitted, list[str]]]:
    """Each sample's timeline, once it has been decided and its notifications finished."""
    deadline = time.monotonic() + within
    while True:
        results = [
            (s, [what for _, _, what in await timeline(settings, s.tracking_reference)])
            for s in submitted
        ]
        settled = all(
            any(w.startswith(("routed", "rejected", "needs-triage")) for w in lines)
            and (
                s.name not in _LAST_STEP
                or (
                    any(w.startswith(_LAST_STEP[s.name]) for w in lines)
                    and sum(" by " in w and "attempt" in w for w in lines) >= 3
                )
            )
            and not any(": pending" in w or ": sending" in w for w in lines)
            and any(" by " in w and "attempt" in w for w in lines)
            for s, lines in results
        )
        if settled or time.monotonic() > deadline:
            return results
        await asyncio.sleep(0.5)
