"""Setting up and checking a second factor: TOTP (pyotp) and one-time recovery codes.

A code is accepted for the current 30-second step or the one before or after (clocks drift),
and never twice: the step of the last accepted code is stored, and only a later step passes
(RFC 6238 §5.2). Wrong codes are counted per person (5 in 15 minutes, then even the right
one is refused until the window ends), like wrong passwords at /confirm-password/.
"""

import hashlib
import secrets
import time

import pyotp
import segno
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from klaxon_site.lib import encryption
from klaxon_site.lib.counters import count, current, reset
from mfa.models import RecoveryCode, TotpDevice

RECOVERY_CODES = 10
STEP_SECONDS = 30
WINDOW_SECONDS = 15 * 60
MAX_FAILURES = 5


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    """What the QR code holds (otpauth://totp/...): the account shows as "Klaxon (acme)"."""
    label = user.user_name
    issuer = f"Klaxon ({user.organisation.slug})" if user.organisation is not None else "Klaxon"
    return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=issuer)


def qr_code(uri: str) -> str:
    """An SVG data: URI of the QR code (the Content-Security-Policy allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _step_of(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step `code` is valid for (now, or one step either side), else None."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = int(now // STEP_SECONDS)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.at(candidate * STEP_SECONDS), code):
            return candidate
    return None


def has_device(user: User) -> bool:
    return TotpDevice.objects.filter(user=user).exists()


def _normalised_recovery(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _hash(code: str) -> str:
    return hashlib.sha256(_normalised_recovery(code).encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    """Replace the person's recovery codes; the new ones in plain text, to show once."""
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, code_hash=_hash(code)) for code in codes)
    return [f"{code[:5]}-{code[5:]}" for code in codes]


@transaction.atomic
def enrol(user: User, secret: str, code: str) -> list[str] | None:
    """Keep `secret` as the person's authenticator if `code` proves they set it up; their new
    recovery codes, or None when the code is wrong."""
    if not secret:  # no set-up page was shown in this session (or it was already used)
        return None
    step = _step_of(secret, code)
    if step is None:
        return None
    TotpDevice.objects.update_or_create(
        user=user,
        defaults={"secret_encrypted": encryption.encrypt(secret), "last_step": step, "last_used_at": timezone.now()},
    )
    return _new_recovery_codes(user)


def regenerate_recovery_codes(user: User) -> list[str]:
    with transaction.atomic():
        return _new_recovery_codes(user)


def remove(user: User) -> None:
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()


def unused_recovery_codes(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at=None).count()


def _counter(user: User) -> str:
    return f"mfa-failures\x1f{user.pk}"


def blocked(user: User) -> bool:
    return current(_counter(user), WINDOW_SECONDS) >= MAX_FAILURES


def verify(user: User, code: str) -> str | None:
    """How `code` proved the second factor ("totp" or "recovery"), or None (counted as a failure).

    A TOTP code passes once; a recovery code is spent. Both are claimed with one conditional
    UPDATE, so two requests racing with the same code cannot both pass.
    """
    if blocked(user):
        return None
    device = TotpDevice.objects.filter(user=user).first()
    if device is not None:
        step = _step_of(encryption.decrypt(device.secret_encrypted), code)
        if step is not None and TotpDevice.objects.filter(pk=device.pk, last_step__lt=step).update(
            last_step=step, last_used_at=timezone.now()
        ):
            reset(_counter(user), WINDOW_SECONDS)
            return "totp"
    if len(_normalised_recovery(code)) == 10:
        spent = RecoveryCode.objects.filter(user=user, code_hash=_hash(code), used_at=None).update(
            used_at=timezone.now()
        )
        if spent:
            reset(_counter(user), WINDOW_SECONDS)
            return "recovery"
    count(_counter(user), WINDOW_SECONDS)
    return None


def rotate_encryption() -> int:
    """Re-encrypt every seed with the newest key (manage.py reencrypt_secrets)."""
    changed = 0
    for device in TotpDevice.objects.all().only("pk", "secret_encrypted"):
        TotpDevice.objects.filter(pk=device.pk).update(secret_encrypted=encryption.rotate(device.secret_encrypted))
        changed += 1
    return changed
