"""Location rules: resolution of identity-provider names, and re-homing people."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.expressions import RawSQL

from accounts.identity import check_identifier, identity_key
from locations.models import DEFAULT_LOCATION_NAME, Location


def clean_location_name(name: str | None) -> str:
    return (name or "").strip()


def default_location(organisation) -> Location:
    return Location.objects.get(organisation=organisation, is_default=True)


def resolve_location(organisation, name: str | None) -> Location:
    """The organisation's location called `name` (by identity key: any case, any Unicode
    form, trimmed), else `Default`.

    One hand-written query, the match if there is one, else Default (false sorts first):
    it runs for every person an identity provider creates, where compiling the ORM's
    version cost five times more than running it.
    """
    return next(iter(Location.objects.raw(_RESOLVE_SQL, [organisation.pk, identity_key(name)])))


def resolved_location_id(organisation, name: str | None) -> RawSQL:
    """resolve_location's answer as an SQL expression: an INSERT of a new person resolves
    their location in the same statement (one round trip fewer per person created)."""
    return RawSQL(f"(SELECT id FROM ({_RESOLVE_SQL}) AS resolved)", [organisation.pk, identity_key(name)])


_RESOLVE_SQL = (
    f"SELECT * FROM {Location._meta.db_table} WHERE organisation_id = %s AND (name_key = %s OR is_default) "
    "ORDER BY is_default LIMIT 1"
)


def _users_waiting_for(location: Location):
    """People on `Default` whose identity-provider location names `location`."""
    from accounts.models import User

    return User.objects.filter(
        organisation=location.organisation, location__is_default=True, idp_location_key=identity_key(location.name)
    )


def _pick_up_waiting_users(location: Location) -> int:
    from accounts.models import User

    ids = list(_users_waiting_for(location).values_list("pk", flat=True))
    return User.objects.filter(pk__in=ids).update(location=location)


def _save_name(location: Location) -> None:
    check_identifier(location.name, "The location name", "name")
    try:
        with transaction.atomic():
            location.full_clean(exclude=["organisation"], validate_unique=False, validate_constraints=False)
            location.save()
    except IntegrityError:
        raise ValidationError({"name": f"A location called {location.name!r} already exists."}) from None


@transaction.atomic
def create_location(organisation, name: str) -> tuple[Location, int]:
    """Create a location; people on `Default` whose provider sent this name move to it.

    Returns the location and how many people it picked up.
    """
    name = clean_location_name(name)
    if not name:
        raise ValidationError({"name": "A location needs a name."})
    location = Location(organisation=organisation, name=name)
    _save_name(location)
    return location, _pick_up_waiting_users(location)


@transaction.atomic
def rename_location(location: Location, name: str) -> int:
    """Rename a location; returns how many people on `Default` it then picked up."""
    name = clean_location_name(name)
    if location.is_default and name != DEFAULT_LOCATION_NAME:
        raise ValidationError({"name": "The Default location cannot be renamed."})
    if not name:
        raise ValidationError({"name": "A location needs a name."})
    location.name = name
    _save_name(location)
    return _pick_up_waiting_users(location)


@transaction.atomic
def delete_location(location: Location) -> int:
    """Delete a location, moving its people to `Default`; returns how many moved."""
    if location.is_default:
        raise ValidationError("The Default location cannot be deleted.")
    moved = location.users.update(location=default_location(location.organisation))
    location.delete()
    return moved
