"""The other tenants of a shared database, for `bench/run.py --tenants N --people M`: N - 1
organisations holding M people between them (besides the organisation the benchmark then
synchronises over SCIM), each with a location, a group of all its people, and history.

One template organisation is provisioned through Klaxon's own domain action (identity keys,
search text, phone parsing: real rows), then copied organisation by organisation with
INSERT … SELECT, new SCIM ids and the copy's own locations. Prints one JSON line: how many
organisations and people were written and how long it took.

    DATABASE_URL=postgres://… .venv/bin/python bench/tenants.py --organisations 199 --people 900000
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LOCATIONS = ("London", "Leeds", "Manchester")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--organisations", type=int, required=True)
    parser.add_argument("--people", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klaxon_site.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from accounts import actions, memberships
    from accounts.models import Group, Organisation, User
    from locations.models import Location

    started = time.monotonic()
    per_organisation = max(1, args.people // args.organisations)
    run = int(time.time())

    def new_organisation(number: int) -> Organisation:
        organisation = actions.create_organisation(f"Tenant {number}", f"tenant-{run}-{number:03d}")
        for name in LOCATIONS:
            Location.objects.create(organisation=organisation, name=name)
        return organisation

    template = new_organisation(0)
    for i in range(per_organisation):
        actions.provision_user(
            template,
            {
                "user_name": f"person{i:06d}@tenant.test",
                "external_id": f"ext-{i}",
                "given_name": f"Given{i}",
                "family_name": f"Family{i}",
                "display_name": f"Given{i} Family{i}",
                "email": f"person{i:06d}@tenant.test",
                "is_active": True,
                "idp_location": LOCATIONS[i % len(LOCATIONS)],
                "idp_notification_phone": f"07911 {i:06d}",
            },
        )
    everyone = Group.objects.create(organisation=template, display_name="Everyone")
    memberships.add(everyone, list(User.objects.filter(organisation=template).values_list("pk", flat=True)))

    copied = [f.column for f in User._meta.concrete_fields if f.column not in ("id", "organisation_id", "scim_id")]
    columns = ", ".join(connection.ops.quote_name(c) for c in copied)
    source = ", ".join(
        f"COALESCE(new_location.id, {connection.ops.quote_name('u')}.location_id)"
        if c == "location_id"
        else f"u.{connection.ops.quote_name(c)}"
        for c in copied
    )
    for number in range(1, args.organisations):
        with transaction.atomic():
            organisation = new_organisation(number)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO accounts_user (organisation_id, scim_id, {columns})
                    SELECT %s, gen_random_uuid(), {source}
                    FROM accounts_user u
                    LEFT JOIN locations_location old_location ON old_location.id = u.location_id
                    LEFT JOIN locations_location new_location
                      ON new_location.organisation_id = %s AND new_location.name_key = old_location.name_key
                    WHERE u.organisation_id = %s
                    """,
                    [organisation.pk, organisation.pk, template.pk],
                )
            group = Group.objects.create(organisation=organisation, display_name="Everyone")
            memberships.add(group, list(User.objects.filter(organisation=organisation).values_list("pk", flat=True)))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        json.dumps(
            {
                "organisations": args.organisations,
                "people": User.objects.exclude(organisation__slug__startswith="bench-").count(),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
