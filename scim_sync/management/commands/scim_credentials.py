import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Organisation
from scim_sync import credentials
from scim_sync.models import ScimToken


class Command(BaseCommand):
    help = (
        "Print an organisation's SCIM endpoint URL, creating the endpoint if needed. A token is "
        "generated, and printed once, when the organisation has no live token or with "
        "--rotate-token; otherwise no token is printed (it is stored only as a hash). "
        "Idempotent without flags."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Organisation slug, e.g. 'acme'.")
        parser.add_argument(
            "--rotate-token", action="store_true", help="Generate a new token; the old one stops working after --grace."
        )
        parser.add_argument(
            "--rotate-endpoint",
            action="store_true",
            help="Give the endpoint a new key: the old URL answers 404 at once.",
        )
        parser.add_argument(
            "--grace",
            choices=list(credentials.GRACE_CHOICES),
            help="With --rotate-token: how long the previous token keeps working (default none).",
        )
        parser.add_argument("--json", action="store_true", help='Print {"endpoint_url": ..., "token": ... or null}.')

    @transaction.atomic
    def handle(self, *args, **options):
        organisation = Organisation.objects.filter(slug=options["slug"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the slug {options['slug']!r}.")
        if options["grace"] and not options["rotate_token"]:
            raise CommandError("--grace only applies together with --rotate-token.")

        if options["rotate_endpoint"]:
            endpoint = credentials.rotate_endpoint(organisation)
        else:
            endpoint = credentials.endpoint_for(organisation)
        token = None
        if options["rotate_token"] or not ScimToken.objects.live().filter(organisation=organisation).exists():
            grace = credentials.GRACE_CHOICES[options["grace"] or "none"]
            token = credentials.generate_token(organisation, grace=grace)

        if options["json"]:
            self.stdout.write(json.dumps({"endpoint_url": endpoint.url, "token": token}))
            return
        self.stdout.write(f"Endpoint URL: {endpoint.url}")
        if token:
            self.stdout.write(f"Token:        {token}")
            self.stdout.write(self.style.WARNING("The token is shown only now: paste it into the identity provider."))
        else:
            self.stdout.write("Token:        unchanged (use --rotate-token for a new one)")
