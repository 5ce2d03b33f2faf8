"""Sealed boxes (libsodium, through PyNaCl): anyone with the public key can seal, only the
holder of the private key can open.

Self-referral events carry the submission sealed to intake's public key, so a topic that
ops watch never holds a patient's details in clear, and other organisations' forms need
only the public key to publish.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox


class SealError(ValueError):
    """The sealed text is not base64, not sealed to this key, or was altered."""


def generate_keypair() -> tuple[str, str]:
    """A new (private, public) pair, each as base64 text for an environment variable."""
    private = PrivateKey.generate()
    return _b64(bytes(private)), _b64(bytes(private.public_key))


def public_key_of(private_key: str) -> str:
    return _b64(bytes(_private(private_key).public_key))


def is_public_key(text: str) -> bool:
    try:
        PublicKey(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, CryptoError):
        return False
    return True


def seal(public_key: str, plaintext: bytes) -> str:
    box = SealedBox(PublicKey(base64.b64decode(public_key, validate=True)))
    return _b64(box.encrypt(plaintext))


def open_sealed(private_key: str, sealed: str) -> bytes:
    try:
        return SealedBox(_private(private_key)).decrypt(base64.b64decode(sealed, validate=True))
    except (CryptoError, ValueError) as error:
        raise SealError("cannot be opened with this service's key") from error


def derive_secret(private_key: str, purpose: str) -> bytes:
    """A per-purpose secret (e.g. CSRF signing) derived from the key, so there is one less
    secret to manage; knowing it reveals nothing about the key."""
    return hashlib.blake2b(purpose.encode(), key=bytes(_private(private_key))[:64]).digest()


@lru_cache(maxsize=8)
def _private(private_key: str) -> PrivateKey:
    """Kept: making one derives its public key (a scalar multiplication), which opening every
    self-referral would otherwise pay again."""
    return PrivateKey(base64.b64decode(private_key, validate=True))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
