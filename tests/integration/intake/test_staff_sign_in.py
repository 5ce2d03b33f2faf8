"""The hostile cases a security reviewer would try on the staff sign-in, against the real
intake and the real identity provider (the local Keycloak): a missing or wrong `state`, a
replayed authorization code, an ID token that is forged, expired, for another audience or
issuer, or with the wrong nonce, a token answer with no ID token, a forged session cookie,
and a page action without its CSRF token. Each is refused, and nobody is signed in."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.starlette_client import StarletteOAuth2App
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from intake.web.csrf import FIELD
from tests.integration.intake.test_clinic_pages import csrf, routed
from tests.support import staff
from tests.support.running import RunningIntake

PROVIDER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider", "use": "sig"})
ATTACKER_KEY = RSAKey.generate_key(2048, parameters={"kid": "attacker", "use": "sig"})


async def started(intake: RunningIntake) -> dict[str, str]:
    """A sign-in begun here: the state and nonce the provider was sent."""
    start = await intake.client.get("/staff/sign-in", params={"next": "/clinic"})
    assert start.status_code == 302
    asked = parse_qs(urlsplit(start.headers["location"]).query)
    assert asked["code_challenge_method"] == ["S256"]  # PKCE
    return {
        "state": asked["state"][0],
        "nonce": asked["nonce"][0],
        "url": start.headers["location"],
    }


async def signed_in(intake: RunningIntake) -> bool:
    return (await intake.client.get("/clinic")).status_code == 200


async def test_a_missing_or_wrong_state_and_a_replayed_code_are_refused(
    intake: RunningIntake,
) -> None:
    sign_in = await started(intake)
    back = urlsplit(await staff.at_provider(sign_in["url"], "clin.bsol"))
    code = parse_qs(back.query)["code"][0]
    no_state = await intake.client.get("/staff/callback", params={"code": code})
    assert no_state.status_code == 401
    wrong = await intake.client.get("/staff/callback", params={"code": code, "state": "forged"})
    assert wrong.status_code == 401
    assert not await signed_in(intake)
    good = await intake.client.get(f"{back.path}?{back.query}")
    assert good.status_code == 303  # the real one still works, once
    intake.client.cookies.delete("whr_staff")
    replayed = await intake.client.get(f"{back.path}?{back.query}")
    assert replayed.status_code == 401
    assert not await signed_in(intake)
    # The same code under a fresh sign-in's own state: the provider refuses a used code.
    fresh = await started(intake)
    again = await intake.client.get(
        "/staff/callback", params={"code": code, "state": fresh["state"]}
    )
    assert again.status_code == 401
    assert not await signed_in(intake)


@pytest.fixture
def provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider's published keys are ours to sign with (as if we held its key), so that
    each bad claim is the only fault of a token."""

    async def jwks(self: Any, force: bool = False) -> dict[str, Any]:
        return KeySet([PROVIDER_KEY]).as_dict(private=False)

    monkeypatch.setattr(StarletteOAuth2App, "fetch_jwk_set", jwks)


def id_token(sign_in: dict[str, str], key: RSAKey = PROVIDER_KEY, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": staff_issuer(), "aud": "intake-staff", "sub": str(uuid.uuid4()),
        "iat": now, "exp": now + 300, "nonce": sign_in["nonce"], "name": "Mallory Forge",
        "roles": ["clinician-pelvic-bsol"], **changes,
    }  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def staff_issuer() -> str:
    from intake.settings import IntakeSettings

    return IntakeSettings.model_fields["oidc_issuer"].default  # type: ignore[no-any-return]


def answered_with(monkeypatch: pytest.MonkeyPatch, token: dict[str, Any]) -> None:
    """The provider's token endpoint answers with `token` (no call leaves the process)."""

    async def fetch(self: Any, **_kwargs: Any) -> dict[str, Any]:
        return token

    monkeypatch.setattr(StarletteOAuth2App, "fetch_access_token", fetch)


@pytest.mark.parametrize(
    "fault",
    ["none", "another audience", "expired", "another nonce", "another issuer", "no id token"],
)
async def test_an_id_token_that_does_not_hold_signs_nobody_in(
    intake: RunningIntake, provider_keys: None, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    sign_in = await started(intake)
    changes: dict[str, Any] = {
        "none": {},
        "another audience": {"aud": "some-other-client"},
        "expired": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        "another nonce": {"nonce": "replayed-nonce"},
        "another issuer": {"iss": "https://idp.example.org/realms/evil"},
        "no id token": {},
    }[fault]
    token: dict[str, Any] = {"access_token": "at", "token_type": "Bearer"}
    if fault != "no id token":
        token["id_token"] = id_token(sign_in, **changes)
    answered_with(monkeypatch, token)
    answer = await intake.client.get(
        "/staff/callback", params={"code": "c", "state": sign_in["state"]}
    )
    if fault == "none":  # the harness itself: a token that holds does sign in
        assert answer.status_code == 303
        assert await signed_in(intake)
        return
    assert answer.status_code == 401
    assert "Sign-in did not work" in answer.text
    assert not await signed_in(intake)


async def test_a_token_signed_by_anyone_but_the_provider_signs_nobody_in(
    intake: RunningIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in = await started(intake)  # the provider's real published keys are used
    answered_with(monkeypatch, {"access_token": "at", "id_token": id_token(sign_in, ATTACKER_KEY)})
    answer = await intake.client.get(
        "/staff/callback", params={"code": "c", "state": sign_in["state"]}
    )
    assert answer.status_code == 401
    assert not await signed_in(intake)


async def test_a_forged_session_cookie_opens_nothing(intake: RunningIntake) -> None:
    await staff.sign_in(intake.client, "clin.bsol")
    assert await signed_in(intake)
    real = str(intake.client.cookies.get("whr_staff"))
    intake.client.cookies.set("whr_staff", str(uuid.uuid4()))  # unsigned: any session id
    assert not await signed_in(intake)
    intake.client.cookies.set("whr_staff", real[:-3] + ("AAA" if real[-3:] != "AAA" else "BBB"))
    assert not await signed_in(intake)


@pytest.mark.parametrize(
    "action",
    ["accept", "return", "book", "cancel-appointment", "attended", "did-not-attend",
     "not-contactable", "discharge"],
)  # fmt: skip
async def test_every_clinic_action_needs_its_csrf_token(intake: RunningIntake, action: str) -> None:
    referrer = await intake.new_key("M85001")
    referral = await routed(intake, referrer)
    await staff.sign_in(intake.client, "clin.bsol")
    url = f"/clinic/referrals/{referral['referral_id']}"
    page = await intake.client.get(url)
    without = await intake.client.post(f"{url}/{action}", data={"reason_code": "wrong-site"})
    assert without.status_code == 403
    forged = await intake.client.post(f"{url}/{action}", data={FIELD: "forged"})
    assert forged.status_code == 403
    out = await intake.client.post("/clinic/sign-out", data={"go": "1"})
    assert out.status_code == 403  # signing out too
    assert csrf(page.text)
    assert (await intake.client.get(url)).status_code == 200  # nothing happened


def logout_token(key: RSAKey = PROVIDER_KEY, **changes: Any) -> str:
    claims = {
        "iss": staff_issuer(), "aud": "intake-staff", "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}}, **changes,
    }  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, claims, key)


async def test_the_providers_logout_ends_her_session_here_and_a_forged_one_nothing(
    intake: RunningIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    await staff.sign_in(intake.client, "clin.bsol")
    sid = await intake.service.database.pool.fetchval(
        "SELECT provider_sid FROM staff_sessions WHERE ended_at IS NULL"
    )
    assert sid  # the provider named its session in the ID token

    async def back_channel(token: str) -> int:
        answer = await intake.client.post(
            "/staff/back-channel-logout", data={"logout_token": token}
        )
        return answer.status_code

    assert await back_channel(logout_token(ATTACKER_KEY, sid=sid)) == 400  # real keys: forged
    assert await signed_in(intake)

    async def jwks(self: Any, force: bool = False) -> dict[str, Any]:
        return KeySet([PROVIDER_KEY]).as_dict(private=False)

    monkeypatch.setattr(StarletteOAuth2App, "fetch_jwk_set", jwks)
    for wrong in ({"aud": "another-client"}, {"iat": int(time.time()) - 3600},
                  {"events": {}}, {"nonce": "n"}):  # fmt: skip
        assert await back_channel(logout_token(sid=sid, **wrong)) == 400, wrong
        assert await signed_in(intake)
    assert await back_channel(logout_token(sid="another-session")) == 200
    assert await signed_in(intake)  # someone else's session ended, not hers
    assert await back_channel(logout_token(sid=sid)) == 200
    assert not await signed_in(intake)


@pytest.mark.parametrize("elsewhere", ["//evil.example", "/\\evil.example", "https://evil.example"])
async def test_the_page_after_sign_in_is_never_another_site(
    intake: RunningIntake, elsewhere: str
) -> None:
    answer = await staff.sign_in(intake.client, "clin.bsol", elsewhere)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
