"""Every change to an organisation's single sign-on: the portal page, the configure_sso
command and Django admin call these."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.identity import check_identifier
from accounts.models import Organisation, User
from klaxon_site.lib import encryption
from sso import oidc
from sso.models import IdentityProvider, SignInEvent

# What the sign-in button says, from the issuer's host.
KNOWN_PROVIDERS = (
    ("login.microsoftonline.com", "Microsoft"),
    ("okta.com", "Okta"),
    ("oktapreview.com", "Okta"),
    ("okta-emea.com", "Okta"),
    ("accounts.google.com", "Google"),
)


def display_name_for(issuer: str) -> str:
    host = (urlsplit(issuer).hostname or "").lower()
    for suffix, name in KNOWN_PROVIDERS:
        if host == suffix or host.endswith(f".{suffix}"):
            return name
    return "your identity provider"


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str  # "" keeps the stored one
    admin_group: str = ""
    display_name: str = ""


def check_settings(organisation: Organisation, wanted: Settings, *, fetch: bool = True) -> None:
    """ValidationError (by field) for settings that cannot work; with `fetch`, the issuer's
    discovery document must be reachable and name exactly this issuer."""
    problem = oidc.issuer_problem(wanted.issuer)
    if problem:
        raise ValidationError({"issuer": problem})
    if not wanted.client_id.strip():
        raise ValidationError({"client_id": "Enter the client ID (Entra: Application (client) ID)."})
    existing = IdentityProvider.objects.filter(organisation=organisation).first()
    if not wanted.client_secret and existing is None:
        raise ValidationError({"client_secret": "Enter the client secret."})
    check_identifier(wanted.admin_group, "The administrators group", "admin_group")
    if not encryption.available():
        raise ValidationError(encryption.EncryptionUnavailable.__doc__ or "No encryption key.")
    if fetch:
        try:
            oidc.discover(wanted.issuer, fresh=True)
        except oidc.OidcError as error:
            raise ValidationError({"issuer": error.message}) from None


@transaction.atomic
def configure(organisation: Organisation, wanted: Settings, *, by: User | None, require_sso: bool | None = None):
    """Save the settings (the secret encrypted). A change of issuer, client ID or secret voids
    the last test, and with it Require single sign-on, until a new test sign-in succeeds.
    Returns (provider, whether the connection settings changed)."""
    provider = IdentityProvider.objects.select_for_update().filter(organisation=organisation).first()
    if provider is None:
        provider = IdentityProvider(organisation=organisation)
    issuer, client_id = wanted.issuer.strip(), wanted.client_id.strip()
    changed = (
        provider.pk is None
        or provider.issuer != issuer
        or provider.client_id != client_id
        or (bool(wanted.client_secret) and wanted.client_secret != provider.client_secret)
    )
    provider.issuer, provider.client_id = issuer, client_id
    if wanted.client_secret:
        provider.client_secret_encrypted = encryption.encrypt(wanted.client_secret)
    provider.admin_group = wanted.admin_group.strip()
    provider.display_name = wanted.display_name.strip() or display_name_for(issuer)
    if changed:
        provider.tested_at, provider.tested_by, provider.require_sso = None, None, False
    if require_sso is not None:
        provider.require_sso = require_sso
        if require_sso and provider.tested_at is None:
            # configure_sso --require-sso: the operator vouches for settings the discovery check accepted.
            provider.tested_at, provider.tested_by = timezone.now(), by
    provider.updated_at, provider.updated_by = timezone.now(), by
    provider.save()
    return provider, changed


def record_test(provider: IdentityProvider, *, by: User) -> None:
    IdentityProvider.objects.filter(pk=provider.pk).update(tested_at=timezone.now(), tested_by=by)


def set_required(provider: IdentityProvider, required: bool, *, by: User | None) -> None:
    if required and not provider.is_tested:
        raise ValidationError("Test the sign-in first: Klaxon requires single sign-on only once it has worked.")
    provider.require_sso, provider.updated_at, provider.updated_by = required, timezone.now(), by
    provider.save(update_fields=["require_sso", "updated_at", "updated_by"])


def set_break_glass(provider: IdentityProvider, people, *, by: User | None) -> None:
    """The break-glass administrators: active site administrators (by role) of the organisation."""
    people = list(people)
    for person in people:
        if person.organisation_id != provider.organisation_id or person.role != User.Role.SITE_ADMIN:
            raise ValidationError(f"{person} is not a site administrator of this organisation.")
    provider.break_glass.set(people)
    provider.updated_at, provider.updated_by = timezone.now(), by
    provider.save(update_fields=["updated_at", "updated_by"])


def remove(provider: IdentityProvider) -> None:
    provider.delete()


def record_event(organisation_id: int, outcome: str, *, user=None, identity=None, detail: str = "", address=None):
    """One line of the organisation's sign-in log; never a token, a code or the secret."""
    return SignInEvent.objects.create(
        organisation_id=organisation_id,
        outcome=outcome,
        user=user,
        claimed=(identity.shown if identity is not None else "")[:255],
        subject=(identity.subject if identity is not None else "")[:255],
        detail=detail[:255],
        address=address or None,
    )
