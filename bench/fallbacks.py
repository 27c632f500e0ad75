#!/usr/bin/env python
"""How long changing an organisation's reachability fallbacks takes at 10,000 people.

    make bench-fallbacks                     # throwaway PostgreSQL, 10,000 people
    bin/with-postgres .venv/bin/python bench/fallbacks.py --people 50000

An administrator's change on the Synchronisation page recomputes every provider-managed
person of the organisation (accounts.actions.set_reachability_fallbacks). Prints, for each
change: people changed, statements sent, wall time and the database's share of it.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klaxon_site.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts import actions  # noqa: E402
from accounts.models import Organisation, User  # noqa: E402
from locations.actions import create_location  # noqa: E402
from locations.models import Location  # noqa: E402

CITIES = ["London", "Leeds", "Manchester", "Bristol", "Atlantis"]


def build(people: int) -> Organisation:
    Organisation.objects.filter(slug="bench-fallbacks").delete()
    organisation = actions.create_organisation("Bench fallbacks", "bench-fallbacks")
    for city in CITIES[:3]:
        create_location(organisation, city)
    default = Location.objects.get(organisation=organisation, is_default=True)
    rows = []
    for index in range(people):
        contact = {
            "location": None,
            "number": None,
            "phones": [["mobile", f"+4474{index:08d}"], ["work", f"+44207{index % 10000000:07d}"]],
            "address": {"locality": CITIES[index % len(CITIES)], "country": "GB"},
        }
        rows.append(
            User(
                organisation=organisation,
                user_name=f"p{index}@bench.test",
                password="!",
                source=User.Source.IDENTITY_PROVIDER,
                location=default,
                idp_contact=contact,
            )
        )
    User.objects.bulk_create(rows, batch_size=5000)
    return organisation


def measure(organisation: Organisation, phone_types: list[str], address_field: str) -> None:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        changed = actions.set_reachability_fallbacks(organisation, phone_types=phone_types, address_field=address_field)
        elapsed = time.perf_counter() - started
    database = sum(float(q["time"]) for q in queries.captured_queries)
    label = f"phones={','.join(phone_types) or 'off'} address={address_field or 'off'}"
    print(
        f"{label:<36} changed {changed:>7,}  statements {len(queries):>4}  "
        f"{elapsed:6.2f} s  (database {database:5.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000, help="People in the organisation (default 10,000).")
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    organisation = build(options.people)
    print(
        f"{connection.vendor}: {options.people:,} provider-managed people built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    measure(organisation, ["mobile"], "locality")  # first application of the defaults
    measure(organisation, ["work", "mobile"], "locality")
    measure(organisation, [], "")
    measure(organisation, ["mobile"], "locality")
    Organisation.objects.filter(pk=organisation.pk).delete()


if __name__ == "__main__":
    main()
