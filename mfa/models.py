"""A person's second factor for password sign-ins: a TOTP authenticator and recovery codes."""

from django.db import models
from django.utils import timezone

from accounts.models import User


class TotpDevice(models.Model):
    """An authenticator app (RFC 6238 TOTP, 30-second steps, 6 digits). The seed is stored
    encrypted (klaxon_site/lib/encryption.py); `last_step` is the time step of the last code
    accepted, so that a code is never accepted twice."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret_encrypted = models.TextField(editable=False)
    last_step = models.BigIntegerField(default=0, editable=False)
    created = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"authenticator of {self.user}"


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator is lost: shown once, stored as a SHA-256
    hash (each carries 40 random bits; five wrong codes block the person for 15 minutes), spent when used."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="mfa_recoverycode_unique")]

    def __str__(self) -> str:
        return f"recovery code of {self.user}"
