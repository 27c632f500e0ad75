from django.apps import AppConfig


class ScimSyncConfig(AppConfig):
    name = "scim_sync"
    verbose_name = "SCIM synchronisation"
