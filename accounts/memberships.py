"""Group membership as set operations: add, remove, replace, by database key or by SCIM id.

Identity providers move members hundreds or thousands at a time (Okta replaces a whole
group with one PUT), so nothing here loads memberships as model instances, and lists of
keys go to PostgreSQL as one array (klaxon_site/lib/lookups.any_of). Two statements are
hand-written, both PostgreSQL only: the add (unnest) and the add by SCIM id (one round trip);
each says why the ORM does not do the same job (figures: bench/RESULTS.md, "Okta PUT" and
"group PATCH" rows).
"""

import uuid

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Group, GroupMembership, Organisation, User
from klaxon_site.lib.lookups import any_of

MEMBERSHIPS = GroupMembership._meta.db_table


def find(organisation: Organisation, scim_ids) -> dict[str, int]:
    """Map each SCIM id that is a person of `organisation` to its database key."""
    parsed = _as_uuids(scim_ids)
    found = dict(
        User.objects.filter(any_of("scim_id", set(parsed.values())), organisation=organisation).values_list(
            "scim_id", "pk"
        )
    )
    return {raw: found[ident] for raw, ident in parsed.items() if ident in found}


def find_all(organisation: Organisation, scim_ids) -> dict[str, int]:
    """Like find, but any id that is not a person of this organisation refuses the whole
    request, naming the ids."""
    found = find(organisation, scim_ids)
    refuse_unknown({str(raw) for raw in scim_ids} - set(found))
    return found


def refuse_unknown(unknown_ids) -> None:
    if unknown_ids:
        raise ValidationError({"members": f"No such user in this organisation: {', '.join(sorted(unknown_ids)[:5])}."})


def _as_uuids(scim_ids) -> dict[str, uuid.UUID]:
    """Each id as sent, with its UUID; ids that are no UUID name no one and are left out."""
    parsed = {}
    for raw in scim_ids:
        try:
            parsed[str(raw)] = uuid.UUID(str(raw))
        except ValueError:
            continue
    return parsed


def add(group: Group, user_pks, *, displays: dict | None = None) -> None:
    """Set union, in the database: re-adding a member changes nothing.

    `displays` maps a person's key to the name the provider gave them, kept as sent.
    """
    displays = displays or {}
    keys = list(user_pks)
    if not keys:
        return
    names = [(displays.get(pk) or "")[:255] for pk in keys]
    if connection.vendor == "postgresql":
        # One INSERT ... SELECT FROM unnest(): two array parameters, however many members.
        # bulk_create(ignore_conflicts=True) builds a model per row and a VALUES list of
        # three parameters per row, split into batches: several times slower at Okta's
        # 5,000-member PUT.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {MEMBERSHIPS} (group_id, user_id, display) "
                "SELECT %s, member, display FROM unnest(%s::bigint[], %s::text[]) AS t(member, display) "
                "ON CONFLICT DO NOTHING",
                [group.pk, keys, names],
            )
        return
    GroupMembership.objects.bulk_create(
        [GroupMembership(group_id=group.pk, user_id=pk, display=name) for pk, name in zip(keys, names, strict=True)],
        ignore_conflicts=True,
    )


def remove(group: Group, user_pks=None) -> None:
    """Set difference; without `user_pks` every member leaves. One DELETE: nothing points
    at a membership and no signal listens, so Django deletes without collecting rows."""
    leaving = GroupMembership.objects.filter(group=group)
    if user_pks is not None:
        leaving = leaving.filter(any_of("user_id", user_pks))
    leaving.delete()


def replace(group: Group, user_pks, *, displays: dict | None = None) -> None:
    keep = set(user_pks)
    current = set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    remove(group, current - keep)
    add(group, keep - current, displays=displays)


def touch(group: Group) -> None:
    """Member changes move the group's lastModified and version."""
    group.updated_at = timezone.now()
    Group.objects.filter(pk=group.pk).update(updated_at=group.updated_at)


def add_by_scim_id(organisation: Organisation, group_id, scim_ids, *, displays: dict | None = None) -> Group:
    """Add people to a group, both named by SCIM id; the group's version moves.

    Any id that is not a person of the organisation refuses the request and nothing
    changes; no such group raises Group.DoesNotExist. On PostgreSQL, when no display names
    come along, this is one statement with no transaction around it: the PATCH identity
    providers send most, a hundred members at a time. Its UPDATE takes the group's row
    lock, which orders parallel PATCHes of one group as SELECT ... FOR UPDATE does on the
    transactional path.
    """
    displays = displays or {}
    wanted = _as_uuids(scim_ids)
    refuse_unknown({str(raw) for raw in scim_ids} - set(wanted))
    if connection.vendor != "postgresql" or any(displays.values()):
        # Names to keep beside the members (Okta sends them) are matched to people in Python:
        # a join in SQL can be planned as a nested loop when statistics are stale.
        with transaction.atomic():
            group = Group.objects.select_for_update().get(organisation=organisation, scim_id=group_id)
            found = find_all(organisation, wanted)
            add(group, found.values(), displays={found[i]: name for i, name in displays.items() if i in found})
            touch(group)
        return group
    raws = list(wanted)
    with connection.cursor() as cursor:
        cursor.execute(
            _ADD_BY_SCIM_ID_SQL,
            {
                "ids": [wanted[raw] for raw in raws],
                "distinct": len(set(wanted.values())),
                "organisation": organisation.pk,
                "group": str(group_id),
                "now": timezone.now(),
            },
        )
        group_exists, group_pk, display_name, updated_at, found = cursor.fetchone()
    if not group_exists:
        raise Group.DoesNotExist
    found_ids = set(found)
    refuse_unknown({raw for raw in raws if wanted[raw] not in found_ids})
    return Group(
        pk=group_pk, organisation=organisation, scim_id=group_id, display_name=display_name, updated_at=updated_at
    )


# Find the people, move the group's version only if every id was found, and insert the
# memberships, in one round trip: the ORM needs three statements and a transaction.
_ADD_BY_SCIM_ID_SQL = f"""
    WITH found AS (SELECT id, scim_id FROM {User._meta.db_table}
                    WHERE scim_id = ANY(%(ids)s::uuid[]) AND organisation_id = %(organisation)s),
         touched AS (UPDATE {Group._meta.db_table} SET updated_at = %(now)s
                      WHERE organisation_id = %(organisation)s AND scim_id = %(group)s::uuid
                        AND (SELECT count(DISTINCT scim_id) FROM found) = %(distinct)s
                     RETURNING id, display_name, updated_at),
         added AS (INSERT INTO {MEMBERSHIPS} (group_id, user_id, display)
                   SELECT touched.id, found.id, '' FROM touched, found ON CONFLICT DO NOTHING)
    SELECT EXISTS (SELECT 1 FROM {Group._meta.db_table}
                    WHERE organisation_id = %(organisation)s AND scim_id = %(group)s::uuid),
           touched.id, touched.display_name, touched.updated_at, ARRAY(SELECT scim_id FROM found)
      FROM (SELECT 1) AS one LEFT JOIN touched ON true
"""
