"""Secrets Klaxon must read back (an identity provider's client secret, TOTP seeds), encrypted
at rest with keys from the environment, never with SECRET_KEY.

`KLAXON_ENCRYPTION_KEYS` holds comma-separated Fernet keys (cryptography's AES-128-CBC with
HMAC-SHA256, 32 url-safe base64 bytes each: `python -c "from cryptography.fernet import
Fernet; print(Fernet.generate_key().decode())"`). The first key encrypts; every key decrypts
(cryptography's MultiFernet), so a key is rotated by putting a new one first, running
`manage.py reencrypt_secrets`, then removing the old one (docs/deployment.md, *Secret
rotation*). A database dump alone therefore reveals no secret.

Under DEBUG without keys a fixed development key derived from SECRET_KEY is used, so that
`make run` works out of the box; production refuses to store a secret without keys
(`EncryptionUnavailable`), and a malformed key stops the process at start (settings.py).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["EncryptionUnavailable", "InvalidToken", "available", "decrypt", "encrypt", "parse_keys", "rotate"]


class EncryptionUnavailable(Exception):
    """No KLAXON_ENCRYPTION_KEYS in production: secrets cannot be stored."""


def parse_keys(keys: list[str]) -> list[Fernet]:
    """Fernet objects for the configured keys; ImproperlyConfigured names a malformed one by position."""
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"KLAXON_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 url-safe base64-encoded bytes)."
            ) from None
    return fernets


def _box() -> MultiFernet:
    keys = list(getattr(settings, "KLAXON_ENCRYPTION_KEYS", []))
    if not keys:
        if not settings.DEBUG:
            raise EncryptionUnavailable(
                "Set KLAXON_ENCRYPTION_KEYS (docs/deployment.md) before storing single sign-on or two-factor secrets."
            )
        development = hashlib.sha256(f"klaxon-development-encryption:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(development).decode()]
    return MultiFernet(parse_keys(keys))


def available() -> bool:
    try:
        _box()
    except EncryptionUnavailable:
        return False
    return True


def encrypt(text: str) -> str:
    return _box().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text; cryptography.fernet.InvalidToken when no configured key opens it."""
    return _box().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """The same secret encrypted with the first (newest) key."""
    return _box().rotate(token.encode()).decode()
