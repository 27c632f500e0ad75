from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organisations and people"

    def ready(self):
        from django.db.models import CharField
        from django.db.models.functions import Lower

        from accounts import signals  # noqa: F401

        # `user_name__lower=value.lower()` compares LOWER(column), which the
        # case-insensitive unique indexes serve; `__iexact` (UPPER on PostgreSQL) cannot.
        CharField.register_lookup(Lower)
