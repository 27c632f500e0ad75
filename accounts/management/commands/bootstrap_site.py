import json
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import actions
from accounts.identity import identity_key
from accounts.models import Organisation, User
from locations.actions import create_location
from locations.models import Location


class Command(BaseCommand):
    help = (
        "Create or update an organisation, its locations and a site administrator, then print how to "
        "sign in. Idempotent: rerunning changes only what differs; an existing administrator keeps "
        "their password unless --admin-password is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organisation", required=True, help="Organisation name, e.g. 'Acme Ltd'.")
        parser.add_argument("--slug", required=True, help="Short name typed at sign-in, e.g. 'acme'.")
        parser.add_argument("--admin-email", required=True, help="E-mail (and userName) of the site administrator.")
        parser.add_argument(
            "--admin-name",
            default="Site Administrator",
            help="Given and family name of the site administrator, e.g. 'Ada Lovelace' (the last "
            "word is the family name; default 'Site Administrator'). Identity providers' "
            "validators expect every person to have both.",
        )
        parser.add_argument(
            "--admin-password", help="Password to set; a random one is generated for a new administrator."
        )
        parser.add_argument(
            "--locations", default="", help="Comma-separated location names to ensure, e.g. 'London,Leeds'."
        )
        parser.add_argument(
            "--phone-region", default="GB", help="ISO 3166 region for national phone numbers (default GB)."
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    @transaction.atomic
    def handle(self, *args, **options):
        slug, email = options["slug"], options["admin_email"].strip()
        given_name, _, family_name = options["admin_name"].strip().rpartition(" ")
        if not given_name.strip() or not family_name:
            raise CommandError("--admin-name needs a given and a family name, e.g. 'Ada Lovelace'.")
        names = {"given_name": given_name.strip(), "family_name": family_name}
        try:
            organisation = Organisation.objects.filter(slug=slug).first()
            if organisation is None:
                organisation = actions.create_organisation(
                    options["organisation"], slug, phone_region=options["phone_region"]
                )
            elif organisation.name != options["organisation"]:
                organisation.name = options["organisation"]
                organisation.save(update_fields=["name"])
            for name in filter(None, (n.strip() for n in options["locations"].split(","))):
                if not Location.objects.filter(organisation=organisation, name_key=identity_key(name)).exists():
                    create_location(organisation, name)

            password = options["admin_password"]
            admin = User.objects.filter(organisation=organisation, user_name_key=identity_key(email)).first()
            if admin is None:
                password = password or secrets.token_urlsafe(12)
                admin = actions.create_manual_user(
                    organisation, email, email=email, password=password, role=User.Role.SITE_ADMIN, **names
                )
            else:
                if admin.role != User.Role.SITE_ADMIN:
                    admin.role = User.Role.SITE_ADMIN
                    admin.save(update_fields=["role"])
                if not admin.is_idp_managed and (
                    options["admin_name"] != "Site Administrator" or not (admin.given_name and admin.family_name)
                ):
                    admin.given_name, admin.family_name = names["given_name"], names["family_name"]
                    admin.save(update_fields=["given_name", "family_name"])
                if not admin.is_active:
                    actions.reactivate_user(admin)
                if password:
                    admin.set_password(password)
                    admin.save(update_fields=["password"])
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None

        result = {
            "organisation": organisation.slug,
            "sign_in_url": f"{settings.KLAXON_PUBLIC_URL}/sign-in/",
            "username": admin.user_name,
            "password": password,
            "locations": list(organisation.locations.values_list("name", flat=True)),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(self.style.SUCCESS(f"Organisation {organisation.name!r} is ready."))
        self.stdout.write(f"  Sign in at {result['sign_in_url']}")
        self.stdout.write(f"  Organisation: {organisation.slug}")
        self.stdout.write(f"  Username:     {admin.user_name}")
        self.stdout.write(f"  Password:     {password or '(unchanged)'}")
