import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organisation
from sso import actions, oidc


class Command(BaseCommand):
    help = (
        "Configure an organisation's single sign-on (OpenID Connect): issuer URL, client ID and client "
        "secret (stored encrypted, never printed), optionally the SCIM group whose members are the "
        "site administrators, and whether single sign-on is required. The issuer's discovery document "
        "is fetched first unless --skip-check. Changed connection settings need a new test sign-in "
        "(Configuration › Single sign-on) before anyone is offered single sign-on, unless --require-sso, "
        "with which the operator vouches for them. Idempotent: the same arguments change nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Organisation slug, e.g. 'acme'.")
        parser.add_argument(
            "--issuer", required=True, help="Issuer URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0."
        )
        parser.add_argument("--client-id", required=True, help="The application's client ID at the provider.")
        parser.add_argument(
            "--client-secret",
            required=True,
            help="The application's client secret (never printed); '-' reads it from standard input, which keeps "
            "it out of the process list and the shell history.",
        )
        parser.add_argument(
            "--admin-group",
            default="",
            help="displayName of the SCIM group whose members are the site administrators ('' for none).",
        )
        parser.add_argument(
            "--require-sso",
            action="store_true",
            help="Require single sign-on: passwords only for break-glass administrators.",
        )
        parser.add_argument("--skip-check", action="store_true", help="Do not fetch the issuer's discovery document.")
        parser.add_argument("--display-name", default="", help='What the sign-in button says ("Continue with …").')
        parser.add_argument(
            "--json", action="store_true", help='Print {"redirect_uri": ..., "tested": ..., "require_sso": ...}.'
        )

    def handle(self, *args, **options):
        organisation = Organisation.objects.filter(slug=options["slug"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the slug {options['slug']!r}.")
        secret = options["client_secret"]
        if secret == "-":
            secret = sys.stdin.readline().strip()
        wanted = actions.Settings(
            issuer=options["issuer"].strip(),
            client_id=options["client_id"].strip(),
            client_secret=secret,
            admin_group=options["admin_group"],
            display_name=options["display_name"],
        )
        if not wanted.client_secret:
            raise CommandError("--client-secret must not be empty.")
        try:
            actions.check_settings(organisation, wanted, fetch=not options["skip_check"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        provider, changed = actions.configure(
            organisation, wanted, by=None, require_sso=True if options["require_sso"] else None
        )
        result = {
            "redirect_uri": oidc.redirect_uri(),
            "organisation": organisation.slug,
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "admin_group": provider.admin_group or None,
            "require_sso": provider.require_sso,
            "tested": provider.is_tested,
            "changed": changed,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"Redirect URI: {result['redirect_uri']}")
        self.stdout.write(f"Issuer:       {provider.issuer}")
        self.stdout.write(f"Client ID:    {provider.client_id} (secret stored encrypted)")
        self.stdout.write(f"Admin group:  {provider.admin_group or '(none: roles are chosen in Klaxon)'}")
        self.stdout.write(f"Require SSO:  {'yes' if provider.require_sso else 'no'}")
        if not provider.is_tested:
            self.stdout.write(
                self.style.WARNING(
                    "Test the sign-in on Configuration › Single sign-on before people are offered single sign-on."
                )
            )
