"""Organisations (tenants), their people and their groups."""

import uuid
from typing import ClassVar

import phonenumbers
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.identity import (
    IdentityKeyField,
    check_identifier,
    check_unique_name,
    identity_key,
    refresh_identity_keys,
)
from accounts.search import SearchTextField, with_search_text


def validate_region(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{value!r} is not an ISO 3166 region that phone numbers know.")


class Organisation(models.Model):
    """A Klaxon customer: every person, group and location belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True, help_text="Typed at sign-in to pick the organisation.")
    phone_region = models.CharField(
        max_length=2,
        default="GB",
        validators=[validate_region],
        help_text="ISO 3166 code used to read national phone numbers (such as 07700 900123).",
    )
    # accounts/reachability.py: where the number and location come from when the provider
    # sends no Klaxon attribute. Phone types in order, comma-separated ("" = off); one field
    # of the work address ("" = off).
    phone_fallback = models.CharField(
        "notification number fallback",
        max_length=100,
        default="mobile",
        blank=True,
        help_text="Standard phone number types to use, in order, when the Klaxon attribute is absent.",
    )
    location_fallback = models.CharField(
        "location fallback",
        max_length=20,
        default="locality",
        blank=True,
        help_text="Field of the work address to use when the Klaxon attribute is absent.",
    )
    # IANA name ("Europe/London") in which the portal shows times; empty: UTC.
    time_zone = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def phone_fallback_types(self) -> list[str]:
        return [kind for kind in self.phone_fallback.split(",") if kind]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        """Klaxon staff (no organisation) sign in to /admin/ by their userName alone."""
        return self.get(organisation=None, user_name_key=identity_key(username))

    def create_user(self, user_name, password=None, **fields):
        user = self.model(user_name=user_name, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, user_name, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True, organisation=None)
        return self.create_user(user_name, password, **fields)


def max_length(model, name: str) -> int:
    """A text column's maximum, for checks made before the database sees a value."""
    length = model._meta.get_field(name).max_length
    assert length is not None, f"{model.__name__}.{name} has no maximum length"
    return length


class ReturnedForeignKey(models.ForeignKey):
    """A foreign key an INSERT may compute (e.g. a location resolved by name in the same
    statement), read back with RETURNING like the primary key."""

    db_returning = True


class User(AbstractBaseUser, PermissionsMixin):
    """A person Klaxon can alert, and who may sign in to the portal.

    userName is unique within the organisation, case-insensitively (RFC 7643 §4.1.1
    makes it caseExact false). Sign-in names the organisation, so two customers may
    each have a jo@example.com; Klaxon staff have no organisation and use /admin/.
    """

    class Role(models.TextChoices):
        SITE_ADMIN = "site_admin", "Site administrator"
        USER = "user", "User"

    class Source(models.TextChoices):
        IDENTITY_PROVIDER = "identity_provider", "Identity provider"
        MANUAL = "manual", "Manual"

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    # The opaque SCIM id; the database key never leaves Klaxon.
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user_name = models.CharField("userName", max_length=255)
    # accounts/identity.py: how names compare. NULL only for a look-alike found when keys
    # were introduced (migration 0007; `manage.py report_lookalikes` lists them).
    user_name_key = IdentityKeyField(source="user_name", null=True)
    external_id = models.CharField("externalId", max_length=255, null=True, blank=True)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    email = models.EmailField("primary e-mail", max_length=254, blank=True)
    email_key = IdentityKeyField(source="email")
    # Where password resets go: an address the person proved they read (by completing an
    # invitation or a reset mailed to it) or that an administrator gave. The identity
    # provider never writes it: a SCIM token must not be able to redirect a reset.
    recovery_email = models.EmailField("verified e-mail for password resets", max_length=254, blank=True)
    recovery_email_key = IdentityKeyField(source="recovery_email")
    is_active = models.BooleanField("active", default=True)
    is_staff = models.BooleanField("Klaxon staff", default=False)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)

    # Effective location beside the value the identity provider last sent.
    location = ReturnedForeignKey(
        # RESTRICT: a location in use is deleted only through delete_location (which moves
        # its people to Default first), or together with the whole organisation.
        "locations.Location",
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="users",
    )
    idp_location = models.CharField("location sent by the identity provider", max_length=255, null=True, blank=True)
    idp_location_key = IdentityKeyField(source="idp_location")
    # Effective notification number (E.164) beside the value last received as sent.
    notification_phone = models.CharField("notification phone number (E.164)", max_length=20, blank=True)
    idp_notification_phone = models.CharField(
        "notification phone number sent by the identity provider", max_length=64, null=True, blank=True
    )
    phone_problem = models.CharField(max_length=255, blank=True, help_text="Why the last number could not be used.")
    # Where the effective number and location came from (accounts/reachability.py): "klaxon",
    # "phone:mobile", "address:locality", "administrator", "person", or "" (nothing sent).
    number_source = models.CharField(max_length=40, blank=True)
    location_source = models.CharField(max_length=40, blank=True)
    # The provider's candidates for both: its Klaxon attributes, phone numbers and work
    # address, so that a change of the organisation's fallbacks can recompute everyone.
    idp_contact = models.JSONField(default=dict, blank=True)

    department = models.CharField(max_length=255, blank=True)
    employee_number = models.CharField(max_length=255, blank=True)
    # What the People search matches: names, e-mail, userName, the provider's location,
    # department and phone digits, without accents or case (accounts/search.py).
    search_text = SearchTextField()
    # Every other attribute the identity provider sent (title, addresses, phoneNumbers,
    # manager, ...), kept as sent so that GET returns exactly what was written.
    scim_attributes = models.JSONField(default=dict, blank=True)

    date_joined = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    idp_last_seen_at = models.DateTimeField("last written by the identity provider", null=True, blank=True)
    # Provisioning health counts recent deactivations (a mass deactivation is usually a
    # mistake at the identity provider); empty while the person is active.
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "user_name"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["user_name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user_name_key"], name="accounts_user_username_key_unique"),
            models.UniqueConstraint(
                fields=["user_name_key"], condition=Q(organisation=None), name="accounts_user_staff_username_key_unique"
            ),
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=Q(external_id__isnull=False),
                name="accounts_user_externalid_unique",
            ),
            models.CheckConstraint(
                condition=Q(organisation__isnull=False) | Q(is_staff=True),
                name="accounts_user_org_or_staff",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "location"], name="accounts_user_org_location"),
            models.Index(fields=["organisation", "email_key"], name="accounts_user_org_email_key"),
            models.Index(fields=["organisation", "recovery_email_key"], name="accounts_user_org_recovery_key"),
            models.Index(fields=["organisation", "idp_location_key"], name="accounts_user_org_idp_location"),
            # Deep pages walk these without touching the rows (klaxon_site/lib/paging.py):
            # the People page sorts by userName, SCIM lists by id.
            models.Index(fields=["organisation", "user_name", "id"], name="accounts_user_org_username"),
            models.Index(fields=["organisation", "id"], name="accounts_user_org_id"),
        ]

    def __str__(self) -> str:
        return self.user_name

    def save(self, *args, **kwargs):
        # A save of some fields refreshes the search text when it changes a searched one.
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = with_search_text(kwargs["update_fields"])
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        check_identifier(self.user_name, "The username", "user_name")
        check_identifier(self.email, "The e-mail address", "email")
        refresh_identity_keys(self)
        check_unique_name(self, "user_name_key", "user_name", "The username")

    @property
    def full_name(self) -> str:
        return self.display_name or " ".join(p for p in (self.given_name, self.family_name) if p) or self.user_name

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.given_name or self.user_name

    # Set on the signed-in person for one request when their organisation's identity provider
    # chooses its site administrators (sso/policy.py, applied by sso.middleware); None: the
    # role decides. Not a column: it is recomputed on every request.
    site_admin_by_policy: bool | None = None

    @property
    def is_site_admin(self) -> bool:
        if self.site_admin_by_policy is not None:
            return self.site_admin_by_policy
        return self.role == self.Role.SITE_ADMIN

    @property
    def is_idp_managed(self) -> bool:
        return self.source == self.Source.IDENTITY_PROVIDER

    @property
    def location_name(self) -> str | None:
        return self.location.name if self.location is not None else None


class Group(models.Model):
    """A target for alerts; its members are people of the same organisation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="groups")
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField("displayName", max_length=255)
    display_name_key = IdentityKeyField(source="display_name", null=True)
    external_id = models.CharField("externalId", max_length=255, null=True, blank=True)
    members = models.ManyToManyField(User, through="GroupMembership", related_name="klaxon_groups", blank=True)
    source = models.CharField(max_length=20, choices=User.Source.choices, default=User.Source.MANUAL)
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "display_name_key"], name="accounts_group_displayname_key_unique"
            ),
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=Q(external_id__isnull=False),
                name="accounts_group_externalid_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self):
        check_identifier(self.display_name, "displayName", "display_name")
        refresh_identity_keys(self)
        check_unique_name(self, "display_name_key", "display_name", "A group called")


class GroupMembership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    # What the identity provider called the member (Okta sends it); echoed back as sent.
    display = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="accounts_groupmembership_unique"),
        ]
        indexes = [models.Index(fields=["user"], name="accounts_membership_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


class ProvisioningChange(models.Model):
    """One attribute of a person the identity provider changed ("location London → Leeds",
    "deactivated"): the person page's provisioning history, kept as long as the SCIM
    activity log."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="provisioning_changes")
    at = models.DateTimeField(default=timezone.now)
    attribute = models.CharField(max_length=60)
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["user", "at"], name="accounts_change_user_at"),
            models.Index(fields=["organisation", "at"], name="accounts_change_org_at"),
        ]

    def __str__(self) -> str:
        return f"{self.attribute} of {self.user_id}: {self.old} → {self.new}"


class PortalSession(models.Model):
    """Which sessions belong to whom, so deactivating someone can end them all."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="portal_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"session of {self.user}"
