"""Single sign-on with an organisation's own OpenID Connect provider (Entra ID, Okta, ...)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.identity import IdentityKeyField
from accounts.models import Organisation, User
from klaxon_site.lib import encryption


class IdentityProvider(models.Model):
    """One organisation's OpenID Connect provider and its sign-in policy.

    The client secret is stored encrypted (klaxon_site/lib/encryption.py) and never shown
    again after saving. `tested_at` is set by a successful "Test sign-in" and cleared by any
    change of issuer, client or secret: single sign-on is offered to people, and may be
    required, only once the current settings were proven.
    """

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="identity_provider")
    issuer = models.URLField("issuer URL", max_length=500)
    client_id = models.CharField("client ID", max_length=255)
    client_secret_encrypted = models.TextField(editable=False)
    # What the sign-in button says: "Continue with Okta".
    display_name = models.CharField(max_length=60, default="your identity provider")
    # Optional: the members of this SCIM group (displayName, compared by identity key) are the
    # organisation's site administrators, and nobody else is but the break-glass accounts.
    admin_group = models.CharField("administrators group", max_length=255, blank=True)
    admin_group_key = IdentityKeyField(source="admin_group")
    require_sso = models.BooleanField("require single sign-on", default=False)
    # Site administrators who may still sign in with a password (and a second factor) when
    # single sign-on is required or the group chooses administrators: the way back in when
    # the identity provider is down or misconfigured.
    break_glass = models.ManyToManyField(User, blank=True, related_name="+", verbose_name="break-glass administrators")
    tested_at = models.DateTimeField(null=True, blank=True)
    tested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(require_sso=False) | Q(tested_at__isnull=False),
                name="sso_identityprovider_required_only_when_tested",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} for {self.organisation}"

    @property
    def client_secret(self) -> str:
        return encryption.decrypt(self.client_secret_encrypted)

    @property
    def is_tested(self) -> bool:
        return self.tested_at is not None

    @property
    def chooses_admins(self) -> bool:
        return bool(self.admin_group_key)


class SsoLink(models.Model):
    """A person's account at the organisation's identity provider (issuer + `sub`), recorded
    at their first single sign-on: from then on the subject alone identifies them, whatever
    e-mail address or username the provider sends later."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="sso_link")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    linked_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "issuer", "subject"], name="sso_ssolink_subject_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.issuer}"


class SignInEvent(models.Model):
    """One single sign-on attempt, successful or refused: the organisation's sign-in log on
    the Single sign-on page (kept KLAXON_SCIM_LOG_DAYS, pruned by prune_sign_in_events).

    Kept apart from the SCIM activity log: that log is what the identity provider's SCIM client
    did with the token (and feeds the provisioning health alerts), this one is what people at a
    browser did with the provider's sign-in.
    """

    class Outcome(models.TextChoices):
        SIGNED_IN = "signed_in", "Signed in"
        CONFIRMED = "confirmed", "Confirmed identity"
        TESTED = "tested", "Test sign-in succeeded"
        UNKNOWN_PERSON = "unknown_person", "Refused: nobody in Klaxon"
        DEACTIVATED = "deactivated", "Refused: deactivated"
        REFUSED = "refused", "Refused"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # What the provider said about who signed in (e-mail or preferred_username), as sent.
    claimed = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["organisation", "at"], name="sso_signinevent_org_at")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.claimed or self.subject}"

    @property
    def refused(self) -> bool:
        return self.outcome in (self.Outcome.UNKNOWN_PERSON, self.Outcome.DEACTIVATED, self.Outcome.REFUSED)
