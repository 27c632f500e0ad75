from django.apps import AppConfig
from django.db.backends.signals import connection_created


def fold_case_like_postgresql(sender, connection, **kwargs):
    """SQLite's LOWER() folds ASCII letters only, so "ÖBERG" and "öberg" were different
    userNames there and `familyName gt "ó"` missed "Öberg". Python's str.lower folds every
    letter, as PostgreSQL does; deterministic, so the lower(...) indexes may use it."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(text):
    return text.lower() if isinstance(text, str) else text


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
        connection_created.connect(fold_case_like_postgresql, dispatch_uid="accounts.fold_case")
