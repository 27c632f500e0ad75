from django.contrib import admin
from django.db.models import Count

from locations import actions
from locations.models import Location


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "organisation", "is_default", "user_count")
    list_filter = ("organisation",)
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(user_count=Count("users"))

    @admin.display(ordering="user_count")
    def user_count(self, obj):
        return obj.user_count

    def get_readonly_fields(self, request, obj=None):
        return ("organisation", "name") if obj is not None and obj.is_default else ("is_default",)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_default)

    def save_model(self, request, obj, form, change):
        if change:
            actions.rename_location(obj, obj.name)
        else:
            created, _ = actions.create_location(obj.organisation, obj.name)
            obj.pk = created.pk

    def get_deleted_objects(self, objs, request):
        # delete_location moves a location's people to Default before deleting it, so the
        # PROTECT on User.location (the only one pointing at Location; it guards raw
        # deletes) must not make the admin refuse with "protected related objects".
        to_delete, model_count, perms_needed, _protected = super().get_deleted_objects(objs, request)
        return to_delete, model_count, perms_needed, []

    def delete_model(self, request, obj):
        actions.delete_location(obj)

    def delete_queryset(self, request, queryset):
        for location in queryset.exclude(is_default=True):
            actions.delete_location(location)
