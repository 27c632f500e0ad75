"""Every change to organisations, people and groups goes through these functions.

Portal views, Django admin, management commands and the SCIM layer all call them.
"""

from dataclasses import dataclass

import phonenumbers
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation, PortalSession, User
from locations.actions import resolve_location  # noqa: F401  (re-exported for callers)
from locations.models import DEFAULT_LOCATION_NAME, Location


@transaction.atomic
def create_organisation(name: str, slug: str, *, phone_region: str = "GB") -> Organisation:
    """Create a tenant together with its `Default` location."""
    organisation = Organisation(name=name, slug=slug, phone_region=phone_region.upper())
    organisation.full_clean()
    organisation.save()
    Location.objects.create(organisation=organisation, name=DEFAULT_LOCATION_NAME, is_default=True)
    return organisation


@dataclass(frozen=True)
class NormalisedPhone:
    e164: str
    problem: str


def normalise_phone(raw: str | None, region: str) -> NormalisedPhone:
    """E.164 form of `raw`, reading national numbers in `region`.

    An unusable number is never an error: it gives an empty number and the reason.
    """
    text = (raw or "").strip()
    if not text:
        return NormalisedPhone("", "")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return NormalisedPhone("", "This is not a phone number.")
    if not phonenumbers.is_valid_number(number):
        return NormalisedPhone("", f"This is not a valid phone number for {region} or abroad.")
    return NormalisedPhone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), "")


def national_format(e164: str) -> str:
    if not e164:
        return ""
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL)


def set_notification_phone(user: User, raw: str | None, *, from_identity_provider: bool) -> None:
    """Store the number as sent (when from the provider) and its E.164 form (unsaved)."""
    result = normalise_phone(raw, user.organisation.phone_region)
    if from_identity_provider:
        user.idp_notification_phone = raw
    user.notification_phone = result.e164
    user.phone_problem = result.problem


def set_idp_location(user: User, raw: str | None) -> None:
    """Record the provider's location and follow it when it changed (unsaved).

    A location chosen in Klaxon is kept until the provider sends a different value.
    """
    changed = user.location_id is None or (raw or "").strip().lower() != (user.idp_location or "").strip().lower()
    user.idp_location = raw
    if changed:
        user.location = resolve_location(user.organisation, raw)


def set_location(user: User, location: Location) -> None:
    """A person's location chosen in Klaxon (by an administrator or themselves)."""
    if location.organisation_id != user.organisation_id:
        raise ValueError("The location belongs to another organisation.")
    User.objects.filter(pk=user.pk).update(location=location, updated_at=timezone.now())
    user.location = location


def end_sessions(user: User) -> int:
    """Delete every portal session of `user` (recorded at sign-in); returns how many."""
    keys = list(PortalSession.objects.filter(user=user).values_list("session_key", flat=True))
    PortalSession.objects.filter(user=user).delete()
    return Session.objects.filter(session_key__in=keys).delete()[0]


@transaction.atomic
def deactivate_user(user: User) -> None:
    """The person can no longer sign in and their sessions end; nothing is deleted."""
    User.objects.filter(pk=user.pk).update(is_active=False, updated_at=timezone.now())
    user.is_active = False
    end_sessions(user)


def reactivate_user(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=True, updated_at=timezone.now())
    user.is_active = True


@transaction.atomic
def create_manual_user(organisation: Organisation, user_name: str, *, password: str | None = None,
                       role: str = User.Role.USER, **fields) -> User:
    user = User(organisation=organisation, user_name=user_name.strip(), role=role, source=User.Source.MANUAL, **fields)
    user.location = resolve_location(organisation, None)
    user.set_password(password) if password else user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user
