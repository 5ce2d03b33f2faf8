"""Staff sign in through the real flow, as a browser would: intake's sign-in sends them to the
identity provider (the local Keycloak, `devstack up`), its login form is filled in and posted,
and the provider's redirect back, with its code, reaches intake's callback. Nothing bypasses
the provider: the ID token intake keeps is one Keycloak signed."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import httpx

PASSWORD = "local-{username}"  # the local realm's sample users (deploy/keycloak)


async def at_provider(authorize_url: str, username: str) -> str:
    """Log in at the provider's own page; the URL it sends the browser back to."""
    async with httpx.AsyncClient(timeout=20) as browser:
        try:
            page = await browser.get(authorize_url)
        except httpx.ConnectError as down:
            raise AssertionError(
                f"the identity provider is not running at {authorize_url.split('/realms')[0]}:"
                " start it with `python -m devstack up`"
            ) from down
        assert page.status_code == 200, page.text[:500]
        form = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text)
        assert form is not None, "no login form at the provider"
        # Keycloak marks its cookies Secure even over http; a browser still sends them to
        # 127.0.0.1 (a potentially trustworthy origin), httpx does not: sent as a browser would.
        jar = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)
        answer = await browser.post(
            html.unescape(form.group(1)),
            data={"username": username, "password": PASSWORD.format(username=username)},
            headers={"Cookie": jar},
        )
    assert answer.status_code == 302, answer.text[:500]
    return str(answer.headers["location"])


async def sign_in(
    client: httpx.AsyncClient, username: str, next_page: str = "/clinic"
) -> httpx.Response:
    """Sign `username` in on `client` (intake's own client); intake's answer to the callback."""
    start = await client.get("/staff/sign-in", params={"next": next_page})
    assert start.status_code == 302, start.text
    back = urlsplit(await at_provider(start.headers["location"], username))
    return await client.get(f"{back.path}?{back.query}")
