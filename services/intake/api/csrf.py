"""CSRF protection for the form: a signed token in the page must match a cookie.

Signed double-submit cookie, with itsdangerous doing the signing and expiry; a cross-site
page can make a browser send the cookie but cannot read it to forge the matching field.
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
        self._serializer = URLSafeTimedSerializer(secret, salt="self-referral-form")

    def issue(self, nonce: str | None = None) -> tuple[str, str]:
        """(cookie value, form field value); reuses the browser's nonce if it has one."""
        nonce = nonce or secrets.token_urlsafe(16)
        return nonce, str(self._serializer.dumps(nonce))

    def valid(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field:
            return False
        try:
            nonce = self._serializer.loads(field, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, cookie)
