"""Who may sign in how, and who is a site administrator, once an organisation has single sign-on.

- **Single sign-on is offered** once the settings were proven by a test sign-in.
- **Require single sign-on** turns password sign-in, password resets and invitations off for
  everyone but the break-glass administrators, who sign in with a password and a second factor.
- **Administrators chosen by the identity provider** (an `admin_group`): the members of that SCIM
  group are the organisation's site administrators, and nobody else is but the break-glass
  accounts; and only in a session opened through the provider, so that whoever holds the SCIM
  token (and can put anyone in the group) still needs that person's sign-in at the provider.
  Evaluated on every request (sso.middleware), so a membership change takes effect on the next.
"""

from django.conf import settings

from accounts.models import GroupMembership, Organisation, User
from mfa import devices as mfa_devices
from sso.models import IdentityProvider

# How the current session was opened: "sso", or "password" (with a second factor when one was asked).
SIGN_IN_METHOD = "klaxon_sign_in_method"
SSO = "sso"
PASSWORD = "password"


def provider_of(organisation: Organisation | int | None) -> IdentityProvider | None:
    if organisation is None:
        return None
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    return IdentityProvider.objects.filter(organisation_id=organisation_id).first()


def offered(provider: IdentityProvider | None) -> bool:
    """Whether people see "Continue with …": only settings a test sign-in proved."""
    return provider is not None and provider.is_tested


def is_break_glass(provider: IdentityProvider | None, user: User) -> bool:
    return provider is not None and provider.break_glass.filter(pk=user.pk).exists()


def password_allowed(provider: IdentityProvider | None, user: User | None) -> bool:
    """Whether `user` (None: a login that names nobody) may sign in with a password, reset it
    or be invited to choose one."""
    if provider is None or not provider.require_sso:
        return True
    return user is not None and user.role == User.Role.SITE_ADMIN and is_break_glass(provider, user)


def in_admin_group(provider: IdentityProvider, user: User) -> bool:
    return GroupMembership.objects.filter(
        user=user, group__organisation_id=provider.organisation_id, group__display_name_key=provider.admin_group_key
    ).exists()


def site_admin(user: User, provider: IdentityProvider | None, signed_in_with: str | None) -> bool:
    """Whether `user`, in a session opened `signed_in_with` ("sso" or "password"), is a site
    administrator of their organisation."""
    if provider is None or not provider.chooses_admins:
        return user.role == User.Role.SITE_ADMIN
    if user.role == User.Role.SITE_ADMIN and is_break_glass(provider, user):
        return True
    return signed_in_with == SSO and in_admin_group(provider, user)


def site_admin_by_password(user: User) -> bool:
    """Whether `user` would be a site administrator in a session opened with their password:
    such a sign-in needs a second factor (mfa.policy)."""
    return site_admin(user, provider_of(user.organisation_id), PASSWORD)


def apply(user, session) -> None:
    """Set the signed-in person's site administrator status for this request, when their
    organisation's identity provider chooses administrators (User.site_admin_by_policy)."""
    if not getattr(user, "is_authenticated", False) or user.organisation_id is None:
        return
    provider = provider_of(user.organisation_id)
    if provider is not None and provider.chooses_admins:
        user.site_admin_by_policy = site_admin(user, provider, session.get(SIGN_IN_METHOD))


def second_factor_required(user: User) -> bool:
    """Whether a password sign-in of `user` must pass a second factor even if they have none
    yet (they then set one up before getting in): break-glass administrators of an organisation
    that requires single sign-on or lets its provider choose administrators, and anyone who
    would be a site administrator in that session (unless KLAXON_MFA_FOR_SITE_ADMINS is off)."""
    provider = provider_of(user.organisation_id)
    if provider is not None and (provider.require_sso or provider.chooses_admins) and is_break_glass(provider, user):
        return True
    return settings.KLAXON_MFA_FOR_SITE_ADMINS and site_admin(user, provider, PASSWORD)


def second_factor_needed(user: User) -> bool:
    """Whether a password sign-in of `user` asks for a second factor: once they have one, always."""
    return mfa_devices.has_device(user) or second_factor_required(user)
