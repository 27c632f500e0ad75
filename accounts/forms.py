from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from accounts import throttle
from accounts.actions import normalise_phone
from accounts.models import User
from locations.models import Location


class OrganisationSignInForm(AuthenticationForm):
    """Sign-in names the organisation, since userNames are unique only within one."""

    organisation = forms.SlugField(
        label="Organisation",
        max_length=64,
        help_text="Your organisation's Klaxon short name, for example acme.",
        widget=forms.TextInput(attrs={"autocomplete": "organization", "autofocus": True}),
    )
    field_order = ["organisation", "username", "password"]

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "E-mail or username"
        self.fields["username"].widget.attrs.pop("autofocus", None)

    def clean(self):
        organisation = self.cleaned_data.get("organisation")
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if organisation and username and password:
            if throttle.is_blocked(self.request, organisation, username):
                raise forms.ValidationError(
                    "Too many failed sign-ins. Wait 15 minutes or reset your password.", code="throttled"
                )
            self.user_cache = authenticate(
                self.request, organisation=organisation, username=username, password=password
            )
            if self.user_cache is None:
                throttle.record_failure(self.request, organisation, username)
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
            throttle.clear(self.request, organisation, username)
        return self.cleaned_data

    def get_invalid_login_error(self):
        return forms.ValidationError(
            "That organisation, username and password do not match an active account.",
            code="invalid_login",
        )


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(label="Password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}))

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password


class OrganisationPasswordResetForm(PasswordResetForm):
    """Password reset names the organisation too: e-mails are unique only within one."""

    organisation = forms.SlugField(label="Organisation", max_length=64)
    field_order = ["organisation", "email"]

    def get_users(self, email):
        people = User.objects.filter(
            organisation__slug=self.cleaned_data.get("organisation", ""), email__iexact=email, is_active=True
        )
        return (u for u in people if u.has_usable_password() or u.is_idp_managed)


class LocationChoiceField(forms.ModelChoiceField):
    def __init__(self, organisation, **kwargs):
        super().__init__(queryset=Location.objects.filter(organisation=organisation), empty_label=None, **kwargs)


class PersonLocationForm(forms.Form):
    def __init__(self, organisation, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"] = LocationChoiceField(organisation, label="Location")


class ProfileForm(forms.Form):
    notification_phone = forms.CharField(
        label="Notification phone number", required=False, max_length=40,
        help_text="The number Klaxon calls and texts in an alert, e.g. 07911 123456 or +44 7911 123456.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["location"] = LocationChoiceField(user.organisation, label="Location")
        self.order_fields(["location", "notification_phone"])

    def clean_notification_phone(self):
        raw = self.cleaned_data["notification_phone"].strip()
        result = normalise_phone(raw, self.user.organisation.phone_region)
        if raw and result.problem:
            raise forms.ValidationError(result.problem)
        return result.e164


class LocationForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
