"""Where people work; each organisation has a `Default` location as its fallback."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.identity import IdentityKeyField, check_identifier, check_unique_name, refresh_identity_keys

DEFAULT_LOCATION_NAME = "Default"


class Location(models.Model):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=200)
    # accounts/identity.py: how names compare (NULL: a look-alike found by migration).
    name_key = IdentityKeyField(source="name", null=True)
    is_default = models.BooleanField(default=False, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name_key"], name="locations_location_name_key_unique"),
            models.UniqueConstraint(
                fields=["organisation"], condition=Q(is_default=True), name="locations_location_one_default"
            ),
            # The fallback keeps its name: it cannot be renamed away.
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(name=DEFAULT_LOCATION_NAME),
                name="locations_location_default_named_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        check_identifier(self.name, "The location name", "name")
        refresh_identity_keys(self)
        check_unique_name(self, "name_key", "name", "A location called")

    def delete(self, *args, **kwargs):
        if self.is_default:
            raise ValidationError("The Default location cannot be deleted.")
        return super().delete(*args, **kwargs)
