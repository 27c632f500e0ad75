from django.core.management.base import BaseCommand, CommandError

from klaxon_site.lib import encryption
from mfa import devices
from sso.models import IdentityProvider


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (identity providers' client secrets, two-factor seeds) with the "
        "first key of KLAXON_ENCRYPTION_KEYS, so that older keys can then be removed. Idempotent."
    )

    def handle(self, *args, **options):
        try:
            providers = 0
            for provider in IdentityProvider.objects.only("pk", "client_secret_encrypted"):
                IdentityProvider.objects.filter(pk=provider.pk).update(
                    client_secret_encrypted=encryption.rotate(provider.client_secret_encrypted)
                )
                providers += 1
            seeds = devices.rotate_encryption()
        except encryption.InvalidToken:
            raise CommandError(
                "A secret could not be decrypted with any key of KLAXON_ENCRYPTION_KEYS: keep the old key in the list "
                "until this command has run."
            ) from None
        except encryption.EncryptionUnavailable as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Re-encrypted {providers} client secret(s) and {seeds} two-factor seed(s) with the first key."
        )
