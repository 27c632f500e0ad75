"""Every change to organisations, people and groups goes through these functions.

Portal views, Django admin, management commands and the SCIM layer all call them.
"""

from dataclasses import dataclass

import phonenumbers
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts import history, reachability
from accounts.identity import check_identifier, hidden_character, identity_key
from accounts.mail import off_the_request
from accounts.models import Group, Organisation, PortalSession, ProvisioningChange, User, max_length
from accounts.signals import user_deactivated_by_provider
from klaxon_site.lib import counters
from klaxon_site.lib.bulk_update import update_rows
from locations.actions import resolve_location, resolved_location_id
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


MAX_PHONE_CHARS = max_length(User, "idp_notification_phone")
MAX_LOCATION_CHARS = max_length(User, "idp_location")


def set_notification_phone(user: User, raw: str | None, *, from_identity_provider: bool) -> None:
    """Store the number as sent (when from the provider) and its E.164 form (unsaved).

    A text too long to be a number is not refused (an unusable number never blocks
    provisioning): it is flagged, and its first MAX_PHONE_CHARS characters are kept.
    """
    if raw is not None and len(raw) > MAX_PHONE_CHARS:
        result = NormalisedPhone("", f"This is not a phone number: it is longer than {MAX_PHONE_CHARS} characters.")
        raw = raw[:MAX_PHONE_CHARS]
    else:
        result = normalise_phone(raw, organisation_of(user).phone_region)
    if from_identity_provider:
        user.idp_notification_phone = raw
    user.notification_phone = result.e164
    user.phone_problem = result.problem


def set_idp_location(user: User, raw: str | None, *, resolve=None) -> bool:
    """Record the provider's location and follow it when it changed (unsaved); returns
    whether it changed. `resolve` maps a name to a Location (default: resolve_location).

    A location chosen in Klaxon is kept until the provider sends a different value.
    """
    changed = user.location_id is None or identity_key(raw) != identity_key(user.idp_location)
    user.idp_location = raw
    if changed and user.pk is None and resolve is None:
        user.location_id = resolved_location_id(user.organisation, raw)  # by the INSERT, read back on save
    elif changed:
        user.location = (resolve or (lambda name: resolve_location(user.organisation, name)))(raw)
    return changed


def set_location(user: User, location: Location, *, chosen_by: str = reachability.ADMINISTRATOR) -> None:
    """A person's location chosen in Klaxon, by an administrator or (`chosen_by="person"`)
    by themselves."""
    if location.organisation_id != user.organisation_id:
        raise ValueError("The location belongs to another organisation.")
    User.objects.filter(pk=user.pk).update(location=location, location_source=chosen_by, updated_at=timezone.now())
    user.location, user.location_source = location, chosen_by


def follow_provider_contact(user: User, contact: dict, *, resolve=None) -> None:
    """Set the effective number and location from the provider's candidates and the
    organisation's fallbacks (unsaved; accounts/reachability.py states the rules).
    `resolve` as for set_idp_location."""
    organisation = organisation_of(user)
    user.idp_contact = contact
    number = reachability.provider_number(organisation.phone_fallback_types, contact)
    if number.raw != user.idp_notification_phone or user.pk is None:
        set_notification_phone(user, number.raw, from_identity_provider=True)
        user.number_source = number.source
    elif user.number_source not in reachability.SET_IN_KLAXON:
        user.number_source = number.source
    location = reachability.provider_location(organisation.location_fallback, contact)
    if location.source != reachability.KLAXON and not _usable_location_name(location.raw):
        location = reachability.ProviderValue(None, "")  # a fallback that cannot name a location
    if set_idp_location(user, location.raw, resolve=resolve) or user.location_source not in reachability.SET_IN_KLAXON:
        user.location_source = location.source


def _usable_location_name(raw: str | None) -> bool:
    return raw is None or (len(raw) <= MAX_LOCATION_CHARS and hidden_character(raw) is None)


def organisation_of(user: User) -> Organisation:
    """The organisation of a person of one (not Klaxon staff)."""
    assert user.organisation is not None, "Klaxon staff belong to no organisation"
    return user.organisation


def end_sessions(user: User) -> int:
    """Delete every portal session of `user` (recorded at sign-in); returns how many."""
    keys = list(PortalSession.objects.filter(user=user).values_list("session_key", flat=True))
    PortalSession.objects.filter(user=user).delete()
    return Session.objects.filter(session_key__in=keys).delete()[0]


@transaction.atomic
def deactivate_user(user: User) -> None:
    """The person can no longer sign in and their sessions end; nothing is deleted."""
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(is_active=False, deactivated_at=now, updated_at=now)
    user.is_active, user.deactivated_at = False, now
    end_sessions(user)


def reactivate_user(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=True, deactivated_at=None, updated_at=timezone.now())
    user.is_active, user.deactivated_at = True, None


@transaction.atomic
def create_manual_user(
    organisation: Organisation, user_name: str, *, password: str | None = None, role: str = User.Role.USER, **fields
) -> User:
    user = User(organisation=organisation, user_name=user_name.strip(), role=role, source=User.Source.MANUAL, **fields)
    check_identifier(user.user_name, "The username", "user_name")
    check_identifier(user.email, "The e-mail address", "email")
    # An address an administrator or operator typed is where this person's resets go.
    user.recovery_email = user.recovery_email or user.email
    user.location = resolve_location(organisation, None)
    user.set_password(password) if password else user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


class Conflict(Exception):
    """A uniqueness rule of the organisation would be broken (decided by the database)."""


# Fields an identity provider may write, with the column each lands in.
PROVISIONED_FIELDS = (
    "user_name",
    "external_id",
    "given_name",
    "family_name",
    "display_name",
    "email",
    "department",
    "employee_number",
)


# What each column is called in SCIM, for error messages the provider can act on.
SCIM_NAMES = {
    "user_name": "userName",
    "external_id": "externalId",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "display_name": "displayName",
    "email": "emails.value",
    "department": "department",
    "employee_number": "employeeNumber",
    "idp_location": "location",
}
# Identifiers: compared by identity key, and refused with hidden characters (accounts/identity.py).
IDENTIFIER_FIELDS = ("user_name", "email", "idp_location")


def _check_lengths(model, values: dict) -> None:
    """Every column's maximum, enforced before the database sees the value (PostgreSQL
    refuses an over-long value; SQLite would store it), with the attribute named."""
    for name, value in values.items():
        field = model._meta.get_field(name)
        if isinstance(value, str) and field.max_length and len(value) > field.max_length:
            attribute = SCIM_NAMES.get(name, field.verbose_name)
            raise ValidationError({name: f"{attribute} is longer than {field.max_length} characters."})


def _conflict(error: IntegrityError, user: User) -> Conflict:
    """Which uniqueness rule the database enforced, read from its error (no query:
    the transaction is already aborted)."""
    if "external" in str(error).lower():
        return Conflict(f"externalId {user.external_id!r} is already taken in this organisation.")
    return Conflict(f"userName {user.user_name!r} is already taken in this organisation.")


def provision_user(organisation: Organisation, values: dict, *, user: User | None = None) -> User:
    """Create or replace a person as the identity provider describes them.

    `values` holds PROVISIONED_FIELDS plus `is_active`, `idp_location` and
    `idp_notification_phone` (the Klaxon attributes), `idp_phones` ([type, number] pairs),
    `idp_address` (the work address's fields) and `scim_attributes` (everything, as sent).
    Uniqueness is left to the database constraints so that parallel requests cannot
    both win. A new person is one INSERT with no transaction around it (the common case
    of an initial synchronisation); only when it clashes with a manual user of the same
    userName is that user looked for and adopted: the provider takes them over.
    """
    values = dict(values)
    values["user_name"] = (values.get("user_name") or "").strip()
    if not values["user_name"]:
        raise ValidationError({"user_name": "userName is required."})
    _check_lengths(User, {k: values.get(k) for k in (*PROVISIONED_FIELDS, "idp_location") if values.get(k) is not None})
    for name in IDENTIFIER_FIELDS:
        check_identifier(values.get(name), SCIM_NAMES[name], name)
    if user is not None:
        with transaction.atomic(savepoint=False):  # a clash aborts the caller's transaction anyway
            return _write_provisioned(organisation, user, values)
    try:
        return _write_provisioned(organisation, User(organisation=organisation, password=make_password(None)), values)
    except Conflict:
        with transaction.atomic():
            manual = (
                User.objects.select_for_update()
                .filter(
                    organisation=organisation,
                    source=User.Source.MANUAL,
                    user_name_key=identity_key(values["user_name"]),
                )
                .first()
            )
            if manual is None:
                raise
            return _write_provisioned(organisation, manual, values)


def _write_provisioned(organisation: Organisation, user: User, values: dict) -> User:
    previous_email = user.email
    before = None if user.pk is None else _history_state(user)
    for name in PROVISIONED_FIELDS:
        value = values.get(name)
        setattr(user, name, value if name == "external_id" else (value or ""))
    follow_provider_contact(
        user,
        {
            "location": values.get("idp_location"),
            "number": values.get("idp_notification_phone"),
            "phones": values.get("idp_phones") or [],
            "address": values.get("idp_address") or {},
        },
    )
    was_active, is_new = user.is_active, user.pk is None
    if values.get("is_active") is not None:  # Not sent: the person stays as they are.
        user.is_active = bool(values["is_active"])
    deactivated = was_active and not user.is_active and not is_new
    if deactivated:
        refuse_removing_the_last_administrator(user)
        user.deactivated_at = timezone.now()
    elif user.is_active:
        user.deactivated_at = None
    user.scim_attributes = values.get("scim_attributes") or {}
    user.source = User.Source.IDENTITY_PROVIDER
    user.idp_last_seen_at = timezone.now()
    try:
        if is_new and connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a clash leaves the caller's transaction usable
                user.save()
        else:
            user.save()
    except IntegrityError as error:
        raise _conflict(error, user) from None
    if before is not None:
        _record_provisioning_changes(organisation, user, before, at=user.idp_last_seen_at)
    if deactivated:
        end_sessions(user)
        user_deactivated_by_provider.send(sender=User, organisation=organisation, user=user)
    if user.recovery_email and identity_key(previous_email) != identity_key(user.email) and previous_email:
        _announce_email_change(user, previous_email)
    return user


# The attributes the provisioning history follows (accounts/history.py names them), read
# from the person as a ProvisioningChange would store them.
_HISTORY_TEXTS = {
    "userName": "user_name",
    "externalId": "external_id",
    "displayName": "display_name",
    "givenName": "given_name",
    "familyName": "family_name",
    "email": "email",
    "department": "department",
}


def _history_state(user: User) -> dict:
    """What the provisioning history compares, read before a change without a query: the
    location as its key (its name is looked up only when it changed) and the number masked."""
    state = {attribute: getattr(user, field) or "" for attribute, field in _HISTORY_TEXTS.items()}
    state["active"] = user.is_active
    state["location"] = (user.location_id, user.location if User.location.is_cached(user) else None)
    state["number"] = (user.notification_phone, history.masked_number(user.notification_phone, user.phone_problem))
    return state


def _record_provisioning_changes(organisation: Organisation, user: User, before: dict, *, at) -> None:
    """One ProvisioningChange per attribute the provider changed, all in one INSERT; no
    statement when nothing changed (most PUTs of a synchronisation cycle resend the same)."""
    after = _history_state(user)
    changes = []

    def change(attribute: str, old: str, new: str) -> None:
        changes.append(
            ProvisioningChange(organisation=organisation, user=user, at=at, attribute=attribute, old=old, new=new)
        )

    for attribute in _HISTORY_TEXTS:
        if before[attribute] != after[attribute]:
            change(attribute, before[attribute], after[attribute])
    if before["active"] != after["active"]:
        change(
            "active",
            "active" if before["active"] else "deactivated",
            "reactivated" if after["active"] else "deactivated",
        )

    def location_name(pk, loaded) -> str:  # loaded with the person, else looked up (adoption)
        if loaded is not None or pk is None:
            return loaded.name if loaded is not None else ""
        return Location.objects.filter(pk=pk).values_list("name", flat=True).first() or ""

    (old_id, old_location), (new_id, new_location) = before["location"], after["location"]
    if old_id != new_id:
        change("location", location_name(old_id, old_location), location_name(new_id, new_location))
    if before["number"] != after["number"]:
        change("number", before["number"][1], after["number"][1])
    if changes:
        ProvisioningChange.objects.bulk_create(changes)


# Announcements of e-mail changes per person and day: the provider's token must not become a
# way to mail people without end.
MAX_EMAIL_CHANGE_NOTICES = 3


def _announce_email_change(user: User, previous: str) -> None:
    """The provider changed the address of a person who can sign in: tell them at the address
    they verified (password resets keep going there), off the request path once the change is
    committed (a mail server's failure never fails the SCIM request). The text carries no
    name or other free text the provider wrote, only the two addresses (which cannot hold
    line breaks: accounts/identity.py)."""
    if counters.count(f"email-change-notice:{user.pk}", 24 * 3600) > MAX_EMAIL_CHANGE_NOTICES:
        return
    organisation = organisation_of(user)
    body = (
        "Hello,\n\nYour organisation's identity provider changed the e-mail address Klaxon holds for you "
        f"(organisation {organisation.slug}) from {previous} to {user.email}.\n\n"
        f"Password resets still go only to {user.recovery_email}. If you did not expect this change, tell your "
        "Klaxon site administrator. Klaxon never asks you to follow a link to confirm this.\n"
    )
    subject, recipient = f"Klaxon: your e-mail address was changed ({organisation.slug})", user.recovery_email
    transaction.on_commit(lambda: off_the_request(send_mail, subject, body, None, [recipient]))


def refuse_removing_the_last_administrator(user: User) -> None:
    """An organisation always keeps one active site administrator who can sign in: without one,
    nobody could rotate a leaked SCIM token, and the token must not be able to bring that about."""
    if not (user.is_site_admin and user.has_usable_password() and user.organisation_id):
        return
    others = User.objects.filter(organisation_id=user.organisation_id, role=User.Role.SITE_ADMIN, is_active=True)
    if not others.exclude(pk=user.pk).exclude(password__startswith="!").exists():
        raise ValidationError(
            "This person is the organisation's last active site administrator who can sign in to Klaxon; "
            "make someone else a site administrator in Klaxon first."
        )


def delete_user(user: User) -> None:
    if user.is_active:
        refuse_removing_the_last_administrator(user)
    end_sessions(user)
    user.delete()


# Groups ---------------------------------------------------------------------------


def save_group(group: Group, *, display_name: str, external_id: str | None) -> Group:
    group.display_name = (display_name or "").strip()
    group.external_id = external_id
    group.source = User.Source.IDENTITY_PROVIDER
    _check_lengths(Group, {"display_name": group.display_name, "external_id": group.external_id})
    if not (group.display_name or "").strip():
        raise ValidationError({"display_name": "displayName is required."})
    check_identifier(group.display_name, "displayName", "display_name")
    try:
        with transaction.atomic(savepoint=False):
            group.save()
    except IntegrityError as error:
        if group.external_id is not None and "external" in str(error).lower():
            raise Conflict(
                f"externalId {group.external_id!r} is already taken by another group in this organisation."
            ) from None
        raise Conflict(
            f"displayName {group.display_name!r} is already taken by another group in this organisation."
        ) from None
    return group


@transaction.atomic
def update_own_profile(user: User, *, location: Location, notification_phone: str) -> None:
    """A person's own choice of location and (already validated, E.164) number."""
    if location.pk != user.location_id:
        set_location(user, location, chosen_by=reachability.PERSON)
    if notification_phone != user.notification_phone:
        user.notification_phone, user.phone_problem, user.number_source = notification_phone, "", reachability.PERSON
        User.objects.filter(pk=user.pk).update(
            notification_phone=notification_phone,
            phone_problem="",
            number_source=reachability.PERSON,
            updated_at=timezone.now(),
        )


RECOMPUTE_BATCH = 1000


@transaction.atomic
def set_reachability_fallbacks(organisation: Organisation, *, phone_types: list[str], address_field: str) -> int:
    """Change where numbers and locations come from without the Klaxon attribute, and
    recompute every provider-managed person of the organisation at once; returns how many
    people changed.

    One read of the people and one bulk UPDATE per RECOMPUTE_BATCH changed people: no
    request per person (bench/fallbacks.py measures a 10,000-person organisation).
    """
    unknown = [kind for kind in phone_types if kind not in reachability.PHONE_TYPES]
    if unknown or len(set(phone_types)) != len(phone_types):
        raise ValidationError({"phone_fallback": f"Phone types are {', '.join(reachability.PHONE_TYPES)}, each once."})
    if address_field and address_field not in reachability.ADDRESS_FIELDS:
        raise ValidationError({"location_fallback": f"Address fields are {', '.join(reachability.ADDRESS_FIELDS)}."})
    organisation.phone_fallback, organisation.location_fallback = ",".join(phone_types), address_field
    organisation.save(update_fields=["phone_fallback", "location_fallback"])
    return recompute_reachability(organisation)


def recompute_reachability(organisation: Organisation) -> int:
    """Apply the organisation's fallbacks to every provider-managed person; returns how many changed."""
    locations = {loc.name_key: loc for loc in Location.objects.filter(organisation=organisation)}
    default = next(loc for loc in locations.values() if loc.is_default)
    locations.pop("", None)
    fields = [
        "idp_notification_phone",
        "notification_phone",
        "phone_problem",
        "number_source",
        "idp_location",
        "idp_location_key",
        "location",
        "location_source",
    ]
    people = User.objects.filter(organisation=organisation, source=User.Source.IDENTITY_PROVIDER).only(
        "pk", "organisation", "idp_contact", *fields
    )
    changed, count = [], 0
    for person in people.iterator(chunk_size=RECOMPUTE_BATCH):
        person.organisation = organisation
        before = tuple(getattr(person, f if f != "location" else "location_id") for f in fields)
        follow_provider_contact(
            person, person.idp_contact or {}, resolve=lambda name: locations.get(identity_key(name), default)
        )
        person.idp_location_key = identity_key(person.idp_location)
        if tuple(getattr(person, f if f != "location" else "location_id") for f in fields) != before:
            changed.append(person)
        if len(changed) >= RECOMPUTE_BATCH:
            count += _save_batch(changed, fields)
            changed = []
    return count + _save_batch(changed, fields)


def _save_batch(people: list, fields: list) -> int:
    if people:
        now = timezone.now()
        for person in people:
            person.updated_at = now
        update_rows(User, [*fields, "updated_at"], people)
    return len(people)
