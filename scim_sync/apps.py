from django.apps import AppConfig


class ScimSyncConfig(AppConfig):
    name = "scim_sync"
    verbose_name = "SCIM synchronisation"

    def ready(self):
        from scim_sync import health  # noqa: F401  (connects its receivers)
