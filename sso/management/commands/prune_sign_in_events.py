from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from sso.models import SignInEvent


class Command(BaseCommand):
    help = (
        "Delete single sign-on log lines older than KLAXON_SCIM_LOG_DAYS days (kept as long as the SCIM "
        "activity). Idempotent."
    )

    def handle(self, *args, **options):
        cutoff = timezone.now() - timedelta(days=settings.KLAXON_SCIM_LOG_DAYS)
        deleted, _ = SignInEvent.objects.filter(at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} sign-in log line(s) older than {settings.KLAXON_SCIM_LOG_DAYS} days.")
