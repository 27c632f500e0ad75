"""Django admin for Klaxon staff; every save goes through the domain actions."""

from django.contrib import admin
from django.db import transaction
from django.db.models import Count

from accounts import actions
from accounts.models import Group, GroupMembership, Organisation, User

# What the identity provider owns: read-only here for provisioned people.
IDP_MANAGED_USER_FIELDS = (*actions.PROVISIONED_FIELDS, "idp_location", "idp_notification_phone")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "phone_region", "created")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
        else:
            created = actions.create_organisation(obj.name, obj.slug, phone_region=obj.phone_region)
            obj.pk = created.pk


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("user_name", "full_name", "organisation", "location", "is_active", "role", "source")
    list_filter = ("organisation", "is_active", "source", "role", "location")
    search_fields = ("user_name", "email", "given_name", "family_name", "display_name")
    list_select_related = ("organisation", "location")
    autocomplete_fields = ("location",)
    fieldsets = (
        (None, {"fields": ("organisation", "user_name", "role", "source", "is_active", "is_staff")}),
        (
            "Identity",
            {
                "fields": (
                    "external_id",
                    "given_name",
                    "family_name",
                    "display_name",
                    "email",
                    "recovery_email",
                    "department",
                    "employee_number",
                )
            },
        ),
        (
            "Alerting",
            {"fields": ("location", "idp_location", "notification_phone", "idp_notification_phone", "phone_problem")},
        ),
        ("History", {"fields": ("date_joined", "last_login", "idp_last_seen_at")}),
    )
    readonly_fields = ("notification_phone", "phone_problem", "date_joined", "last_login", "idp_last_seen_at")

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.is_idp_managed:
            # The identity provider owns these: an edit here would be overwritten at its next push.
            fields += [f for f in IDP_MANAGED_USER_FIELDS if f not in fields] + ["source"]
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None or not obj.is_idp_managed:
            # Every person has both names: identity providers' validators read them (Okta's
            # SCIM test expects name.givenName and name.familyName of the first person listed).
            for name in ("given_name", "family_name"):
                if name in form.base_fields:
                    form.base_fields[name].required = True
        return form

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.startswith("password"):
            return False
        return super().lookup_allowed(lookup, value, request)

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        if "location" in form.changed_data and change and obj.location:
            actions.set_location(obj, obj.location)
        if "is_active" in form.changed_data and change:
            (actions.reactivate_user if obj.is_active else actions.deactivate_user)(obj)
        if not change:
            obj.set_unusable_password()
            if obj.organisation and not obj.location_id:
                obj.location = actions.resolve_location(obj.organisation, obj.idp_location)
        obj.save()


class MembershipInline(admin.TabularInline):
    model = GroupMembership
    autocomplete_fields = ("user",)
    extra = 1


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("display_name", "organisation", "member_count", "source")
    list_filter = ("organisation", "source")
    search_fields = ("display_name", "external_id")
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count")
    def member_count(self, obj):
        return obj.member_count
