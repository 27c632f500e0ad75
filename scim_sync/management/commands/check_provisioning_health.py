import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organisation
from scim_sync import credentials, health


class Command(BaseCommand):
    help = (
        "Evaluate provisioning health for every organisation with a SCIM endpoint (or --organisation). "
        "Raised when: (a) at least KLAXON_ALERT_AUTH_FAILURES (default 10) SCIM requests were refused (401 or 429) "
        "in the last KLAXON_ALERT_AUTH_WINDOW_MINUTES (15) minutes, counted from the per-minute summaries of "
        "refused requests; (b) a token was generated and no "
        "authenticated SCIM request has arrived for KLAXON_ALERT_SILENCE_HOURS (24) hours; (c) the identity "
        "provider deactivated at least KLAXON_ALERT_DEACTIVATION_MINIMUM (3) people in the last hour and more "
        "than KLAXON_ALERT_DEACTIVATION_SHARE (0.10) of those active an hour ago; (d) the newest live token "
        "stops working within KLAXON_ALERT_TOKEN_EXPIRY_DAYS (7) days (an expiry chosen when it was generated). "
        "A raised condition e-mails the organisation's active site administrators, at most once per condition "
        "per 24 hours ((d): once per warning period); a condition that no longer holds is cleared. Tokens that "
        "stopped working by themselves since the last run are written to the activity log. Idempotent; run it "
        "from cron every 15 minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organisation", metavar="SLUG", help="Evaluate only this organisation, e.g. 'acme'.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        organisations = Organisation.objects.filter(scim_endpoint__isnull=False).order_by("slug")
        if options["organisation"]:
            organisations = organisations.filter(slug=options["organisation"])
            if not organisations:
                raise CommandError(f"No organisation {options['organisation']!r} with a SCIM endpoint.")
        results, failed = [], []
        for organisation in organisations:
            # One organisation's failure (say, the mail server refusing) must not stop the others;
            # its notification stays due and is retried on the next run.
            try:
                credentials.log_ended_tokens(organisation)
                results.append(health.evaluate(organisation))
            except Exception as error:
                failed.append(f"{organisation.slug}: {error}")
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "organisations": [
                            {
                                "organisation": r.organisation,
                                "open": r.open,
                                "notified": r.notified,
                                "cleared": r.cleared,
                            }
                            for r in results
                        ],
                        "notifications_sent": sum(len(r.notified) for r in results),
                        "failed": failed,
                    },
                    indent=2,
                )
            )
        else:
            self.report(results)
        if failed:
            raise CommandError("Could not evaluate " + "; ".join(failed))

    def report(self, results):
        for r in results:
            line = f"{r.organisation}: " + ("; ".join(f"{c}: {d}" for c, d in r.open.items()) or "healthy")
            if r.notified:
                line += f" [e-mailed: {', '.join(r.notified)}]"
            if r.cleared:
                line += f" [cleared: {', '.join(r.cleared)}]"
            self.stdout.write(line)
        self.stdout.write(
            f"{len(results)} organisation(s) checked, "
            f"{sum(len(r.open) for r in results)} open alert(s), "
            f"{sum(len(r.notified) for r in results)} notification(s) sent."
        )
