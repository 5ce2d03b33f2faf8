"""CSRF protection for the form: a signed token in the page must match a signed cookie.

Signed double-submit cookie, with itsdangerous doing the signing and expiry; a cross-site
page can make a browser send the cookie but cannot read it to forge the matching field, and
the cookie is signed too, so a nonce planted in the browser (say by a sibling subdomain) is
not adopted.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "whr_csrf"
FIELD = "csrf_token"
MAX_AGE_SECONDS = 2 * 60 * 60


class CsrfTokens:
    def __init__(self, secret: bytes) -> None:
        self._field = URLSafeTimedSerializer(secret, salt="self-referral-form")
        self._cookie = URLSafeTimedSerializer(secret, salt="self-referral-cookie")

    def issue(self, cookie: str | None = None) -> tuple[str, str]:
        """(cookie value, form field value); keeps the browser's nonce only if we signed it."""
        nonce = self._nonce(cookie) or secrets.token_urlsafe(16)
        return str(self._cookie.dumps(nonce)), str(self._field.dumps(nonce))

    def valid(self, cookie: str | None, field: str | None) -> bool:
        nonce = self._nonce(cookie)
        if nonce is None or not field:
            return False
        try:
            expected = self._field.loads(field, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(nonce, expected)

    def _nonce(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            nonce = self._cookie.loads(cookie, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return None
        return nonce if isinstance(nonce, str) else None
