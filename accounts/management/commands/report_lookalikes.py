"""List people, groups and locations whose name looks like another one's."""

import json

from django.core.management.base import BaseCommand

from accounts.models import Group, User
from locations.models import Location


class Command(BaseCommand):
    help = (
        "List the people, groups and locations that kept no identity key because their name "
        "looks the same as another one of their organisation (accounts/identity.py: compared "
        "after NFKC normalisation and case folding). They were found when the keys were "
        "introduced and are never merged automatically: rename or remove each, then run "
        "`manage.py report_lookalikes --fix` to give the renamed ones their key. Exit status 1 "
        "while any remain."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON list instead of text.")
        parser.add_argument(
            "--fix", action="store_true", help="Recompute the key of each listed row that no longer clashes."
        )

    def handle(self, *args, **options):
        found = []
        for model, name_field, key_field, kind in (
            (User, "user_name", "user_name_key", "person"),
            (Group, "display_name", "display_name_key", "group"),
            (Location, "name", "name_key", "location"),
        ):
            for row in model.objects.filter(**{f"{key_field}__isnull": True}).select_related("organisation"):
                if options["fix"] and self._fix(row, key_field):
                    continue
                found.append(
                    {
                        "kind": kind,
                        "id": row.pk,
                        "organisation": row.organisation.slug if row.organisation else None,
                        "name": getattr(row, name_field),
                    }
                )
        if options["json"]:
            self.stdout.write(json.dumps(found))
        elif not found:
            self.stdout.write("No look-alike names.")
        for item in [] if options["json"] else found:
            self.stdout.write(
                f"{item['organisation']}: {item['kind']} {item['id']} {item['name']!r} looks like another name"
            )
        if found:
            raise SystemExit(1)

    @staticmethod
    def _fix(row, key_field: str) -> bool:
        from django.db import IntegrityError, transaction

        try:
            with transaction.atomic():
                row.save(update_fields=[key_field])
        except IntegrityError:
            return False
        return True
