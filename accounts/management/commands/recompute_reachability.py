from django.core.management.base import BaseCommand, CommandError

from accounts.actions import recompute_reachability
from accounts.models import Organisation


class Command(BaseCommand):
    help = (
        "Apply each organisation's notification-number and location fallbacks (the standard mobile "
        "number and work city when the Klaxon attribute is absent) to its provider-managed people. "
        "Run once after upgrading to the release that introduced fallbacks; idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="Organisations' short names (default: every organisation).")

    def handle(self, *args, **options):
        organisations = Organisation.objects.all()
        if options["slugs"]:
            organisations = organisations.filter(slug__in=options["slugs"])
            missing = set(options["slugs"]) - set(organisations.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No organisation with the short name {', '.join(sorted(missing))}.")
        for organisation in organisations:
            changed = recompute_reachability(organisation)
            self.stdout.write(f"{organisation.slug}: {changed} people changed")
