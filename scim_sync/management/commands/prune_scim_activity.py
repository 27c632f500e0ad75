from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scim_sync.activity import prune_activity
from scim_sync.models import PageBookmark


class Command(BaseCommand):
    help = (
        "Delete SCIM activity records, summaries of refused requests and people's provisioning history "
        "older than KLAXON_SCIM_LOG_DAYS days (or --days), and the page bookmarks of SCIM lists that no page "
        "can use any more. Idempotent; safe to run from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days of activity (default KLAXON_SCIM_LOG_DAYS, "
            f"now {settings.KLAXON_SCIM_LOG_DAYS}).",
        )

    def handle(self, *args, **options):
        days = settings.KLAXON_SCIM_LOG_DAYS if options["days"] is None else options["days"]
        if days < 0:
            raise CommandError("--days must be zero or more.")
        deleted = prune_activity(days)
        bookmarks = PageBookmark.objects.prune()
        self.stdout.write(
            f"Deleted {deleted} SCIM activity record(s) older than {days} day(s) "
            f"and {bookmarks} stale page bookmark(s)."
        )
