"""Django admin for Klaxon staff: SCIM credentials and activity are read-only here.

Tokens and keys change only through `scim_sync.credentials` (portal or `scim_credentials`),
so that a new token is shown once and every rotation follows the same rules.
"""

from django.contrib import admin

from scim_sync.models import AuthFailureSummary, ProvisioningAlert, ScimActivity, ScimEndpoint, ScimToken


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScimEndpoint)
class ScimEndpointAdmin(ReadOnlyAdmin):
    list_display = ("organisation", "url", "created", "rotated_at", "sync_started_at")
    list_select_related = ("organisation",)
    search_fields = ("organisation__name", "organisation__slug")


@admin.register(ScimToken)
class ScimTokenAdmin(ReadOnlyAdmin):
    """Deleting a token stays possible: it is how staff revoke a leaked one at once."""

    list_display = ("prefix", "label", "organisation", "created_at", "created_by", "last_used_at", "expires_at")
    list_filter = ("organisation",)
    list_select_related = ("organisation", "created_by")
    search_fields = ("prefix",)
    fields = ("organisation", "prefix", "label", "created_at", "created_by", "last_used_at", "expires_at")

    def lookup_allowed(self, lookup, value, request=None):
        # As Django's UserAdmin does for passwords: no probing hashes through the changelist URL.
        if lookup.startswith("token_hash"):
            return False
        return super().lookup_allowed(lookup, value, request)


@admin.register(ScimActivity)
class ScimActivityAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "organisation",
        "method",
        "resource_type",
        "label",
        "resource_id",
        "status",
        "scim_type",
        "duration_ms",
    )
    list_filter = ("organisation", "method", "resource_type", "status", "at")
    list_select_related = ("organisation",)
    search_fields = ("label", "resource_id", "detail")

    def has_delete_permission(self, request, obj=None):
        # The log is an audit trail; prune_scim_activity alone removes old records.
        return False


@admin.register(ProvisioningAlert)
class ProvisioningAlertAdmin(ReadOnlyAdmin):
    list_display = ("organisation", "condition", "first_raised_at", "last_notified_at", "cleared_at")
    list_filter = ("condition", "organisation")
    list_select_related = ("organisation",)


@admin.register(AuthFailureSummary)
class AuthFailureSummaryAdmin(ReadOnlyAdmin):
    list_display = ("minute", "organisation", "refused", "throttled", "first_at", "last_at", "addresses", "unlisted")
    list_filter = ("organisation", "minute")
    list_select_related = ("organisation",)
    search_fields = ("addresses",)

    def has_delete_permission(self, request, obj=None):
        # Part of the audit trail, like the activity log; prune_scim_activity removes old minutes.
        return False
