"""Django admin: staff see each organisation's single sign-on, never its client secret."""

from django.contrib import admin

from sso.models import IdentityProvider, SignInEvent


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):
    list_display = ("organisation", "issuer", "display_name", "require_sso", "admin_group", "tested_at")
    fields = ("organisation", "issuer", "client_id", "display_name", "admin_group", "require_sso", "tested_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # the organisation's Single sign-on page or configure_sso: the secret is typed there

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SignInEvent)
class SignInEventAdmin(admin.ModelAdmin):
    list_display = ("at", "organisation", "outcome", "claimed", "user", "detail")
    list_filter = ("outcome",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
