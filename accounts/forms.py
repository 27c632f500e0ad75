from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sites.shortcuts import get_current_site
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import mail, throttle
from accounts.actions import normalise_phone
from accounts.backends import AmbiguousSignIn, Login, organisation_by_slug
from accounts.identity import identity_key
from accounts.models import Group, User
from accounts.queries import MAX_SEARCH_CHARACTERS, SOURCE_FILTERS
from accounts.reachability import source_label
from klaxon_site.lib.client_address import client_address
from klaxon_site.lib.keys import database_key
from locations.models import Location
from mfa import devices as mfa_devices
from sso import policy as sso_policy


class OrganisationSignInForm(AuthenticationForm):
    """Sign-in names the organisation, since userNames are unique only within one.

    Failures are counted before the password is checked (accounts/throttle.py), against the
    person the login names, so that every spelling of it counts together.
    """

    # Any text, in any letter case: a short name that names no organisation gets the same
    # answer as a wrong password (never "Enter a valid slug", which tells a slug from a
    # name), so the page does not reveal which organisations exist.
    organisation = forms.CharField(
        label="Organisation",
        max_length=64,
        help_text="Your organisation's Klaxon short name, for example acme.",
        error_messages={
            "required": "Enter your organisation's short name.",
            "max_length": "An organisation's short name has at most 64 characters.",
        },
        widget=forms.TextInput(attrs={"autocomplete": "organization", "autofocus": True, "autocapitalize": "none"}),
    )
    field_order = ["organisation", "username", "password"]

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "E-mail or username"
        self.fields["username"].widget.attrs.pop("autofocus", None)
        self.fields["username"].error_messages["required"] = "Enter your e-mail address or username."
        self.fields["password"].error_messages["required"] = "Enter your password."

    def clean(self):
        slug = self.cleaned_data.get("organisation")
        typed = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if slug and typed and password:
            organisation = organisation_by_slug(slug)
            login = Login.find(organisation, typed)
            account = throttle.account_for(login.person, typed)
            if throttle.sign_in_blocked(self.request, organisation, account):
                raise forms.ValidationError(
                    "Too many failed sign-ins. Wait 15 minutes or reset your password.", code="throttled"
                )
            self.identity_provider = sso_policy.provider_of(organisation)
            if not sso_policy.password_allowed(self.identity_provider, login.person):
                # Require single sign-on: only break-glass administrators may go on. Everyone
                # else gets the answer a wrong password gets, after the same hashing work, so
                # the page does not tell which logins are break-glass accounts.
                User().set_password(password)
                throttle.sign_in_failed(self.request, organisation, account)
                raise self.get_invalid_login_error()
            try:
                self.user_cache = authenticate(
                    self.request, organisation=organisation or slug, username=typed, password=password, login=login
                )
            except AmbiguousSignIn:
                throttle.sign_in_failed(self.request, organisation, account)
                raise forms.ValidationError(
                    "That password fits more than one account with this e-mail address: sign in with your username.",
                    code="ambiguous",
                ) from None
            if self.user_cache is None:
                throttle.sign_in_failed(self.request, organisation, account)
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
            throttle.sign_in_succeeded(self.request, organisation, account)
        return self.cleaned_data

    def get_invalid_login_error(self):
        provider = getattr(self, "identity_provider", None)
        if provider is not None and provider.require_sso:
            return forms.ValidationError(
                f"{provider.organisation.name} signs in with {provider.display_name}: use the button "
                f"Continue with {provider.display_name}. Only break-glass administrators sign in with a password here, "
                "and these details do not match one.",
                code="sso_required",
            )
        return forms.ValidationError(
            "That organisation, username and password do not match an active account.",
            code="invalid_login",
        )


class ConfirmPasswordForm(forms.Form):
    """The password again before a sensitive action; 5 wrong ones in 15 minutes lock it
    (accounts/throttle.py). `used_up` tells the view that this answer used up the allowance."""

    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.used_up = False
        # Re-authentication asks for the second factor too, when the person has one.
        if mfa_devices.has_device(user):
            self.fields["code"] = forms.CharField(
                label="Code",
                max_length=20,
                help_text="From your authenticator app, or a recovery code.",
                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
                error_messages={"required": "Enter the code from your authenticator app."},
            )

    def clean(self):
        cleaned = super().clean()
        if "code" in self.fields and not self.errors and not mfa_devices.verify(self.user, cleaned.get("code", "")):
            self.used_up = mfa_devices.blocked(self.user)
            self.add_error("code", "That code is not right, or was already used.")
        return cleaned

    def clean_password(self):
        password = self.cleaned_data["password"]
        if throttle.confirm_blocked(self.user):
            raise forms.ValidationError(
                "Too many wrong passwords for this account. Wait 15 minutes, then try again.", code="throttled"
            )
        if not self.user.check_password(password):
            self.used_up = throttle.confirm_failed(self.user)
            raise forms.ValidationError("That is not your password.", code="wrong")
        throttle.confirm_succeeded(self.user)
        return password


class OrganisationPasswordResetForm(PasswordResetForm):
    """Password reset names the organisation too: e-mails are unique only within one.

    The link goes only to a person's recovery address (User.recovery_email: proven by
    completing an invitation or reset, or given by an administrator), never to the e-mail
    the identity provider writes: a SCIM token must not be able to redirect a reset. The page
    answers the same, in the same time, whether anyone matched: looking people up, rendering
    and sending happen off the request path (accounts/mail.py), within the mail limits of
    accounts/throttle.py.
    """

    organisation = forms.CharField(
        label="Organisation",
        max_length=64,
        help_text="Your organisation's Klaxon short name, for example acme.",
        error_messages={"required": "Enter your organisation's short name."},
        widget=forms.TextInput(attrs={"autocomplete": "organization", "autocapitalize": "none"}),
    )
    field_order = ["organisation", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "E-mail address"
        self.fields["email"].error_messages.update(
            required="Enter your e-mail address.", invalid="Enter an e-mail address, such as jo@example.com."
        )

    def get_users(self, email):
        """Active people of the organisation whose recovery address is `email` (any case)."""
        organisation = organisation_by_slug(self.cleaned_data.get("organisation"))
        key = identity_key(email)
        if organisation is None or not key:
            return []
        people = User.objects.filter(organisation=organisation, is_active=True, recovery_email_key=key)
        # Require single sign-on: nobody but the break-glass administrators has a password to reset.
        provider = sso_policy.provider_of(organisation)
        return [
            person for person in people.select_related("organisation") if sso_policy.password_allowed(provider, person)
        ]

    def save(
        self,
        domain_override=None,
        subject_template_name="",
        email_template_name="",
        use_https=False,
        token_generator=default_token_generator,
        from_email=None,
        request=None,
        html_email_template_name=None,
        extra_email_context=None,
    ):
        site = get_current_site(request)
        mail.off_the_request(
            self.send_links,
            domain=domain_override or site.domain,
            use_https=use_https,
            address=client_address(request),
            token_generator=token_generator,
            from_email=from_email,
            templates=(subject_template_name, email_template_name, html_email_template_name),
            extra_context=extra_email_context or {},
        )

    def send_links(self, *, domain, use_https, address, token_generator, from_email, templates, extra_context):
        """Mail a link to each person get_users() finds, within the mail limits; runs off the
        request path, so nothing here shows in the page's answer or its timing."""
        subject_template_name, email_template_name, html_email_template_name = templates
        for person in self.get_users(self.cleaned_data["email"]):
            if not throttle.mail_allowed(person.recovery_email, address):
                continue
            context = {
                "email": person.recovery_email,
                "domain": domain,
                "site_name": domain,
                "uid": urlsafe_base64_encode(force_bytes(person.pk)),
                "user": person,
                "token": token_generator.make_token(person),
                "protocol": "https" if use_https else "http",
                **extra_context,
            }
            self.send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                person.recovery_email,
                html_email_template_name=html_email_template_name,
            )


class ChoosePasswordForm(SetPasswordForm):
    """The password chosen through an invitation or reset link.

    Completing the link proves the person reads the address it was mailed to. A person
    without a recovery address was invited at their e-mail (the link's token hashes the
    e-mail, so it stops working when the identity provider changes it): that e-mail becomes
    their recovery address, where later resets go.
    """

    def save(self, commit=True):
        self.user.set_password(self.cleaned_data["new_password1"])
        if not self.user.recovery_email:
            self.user.recovery_email = self.user.email
        if commit:
            self.user.save(update_fields=["password", "recovery_email"])
        return self.user


class ChangePasswordForm(PasswordChangeForm):
    """A signed-in person's new password, after their current one. Wrong current passwords
    count like those at /confirm-password/ (accounts/throttle.py): a session left open must
    not allow unlimited guesses. `used_up` tells the view that this answer used up the
    allowance. Saves the password alone: a full save would write back every field as read
    at the start of the request, over what the identity provider changed meanwhile."""

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.used_up = False
        self.fields["old_password"].label = "Current password"
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
        self.fields["new_password2"].label = "New password again"

    def clean_old_password(self):
        password = self.cleaned_data["old_password"]
        if throttle.confirm_blocked(self.user):
            raise forms.ValidationError(
                "Too many wrong passwords for this account. Wait 15 minutes, then try again.", code="throttled"
            )
        if not self.user.check_password(password):
            self.used_up = throttle.confirm_failed(self.user)
            raise forms.ValidationError("That is not your current password.", code="password_incorrect")
        throttle.confirm_succeeded(self.user)
        return password

    def save(self, commit=True):
        self.user.set_password(self.cleaned_data["new_password1"])
        if commit:
            self.user.save(update_fields=["password"])
        return self.user


# Portal query strings ---------------------------------------------------------------------


class SearchField(forms.CharField):
    """Free text for a search box: longer text is cut at MAX_SEARCH_CHARACTERS, NUL refused."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "search", "maxlength": MAX_SEARCH_CHARACTERS}))
        super().__init__(**kwargs)

    def to_python(self, value):
        return super().to_python(value)[:MAX_SEARCH_CHARACTERS].strip()


class KnownKeyField(forms.ModelChoiceField):
    """One of the organisation's objects, named by its database key in a query string."""

    def __init__(self, message: str, **kwargs):
        super().__init__(queryset=None, required=False, error_messages={"invalid_choice": message}, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        key = database_key(value)
        if key is None:
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(str(key))


def _choices(*values):
    return [("", "Any"), *values]


def _source_choices():
    """accounts.queries.SOURCE_FILTERS, in the words of accounts.reachability.source_label."""
    return _choices(*((value, source_label(source)) for value, source in SOURCE_FILTERS.items()))


class SearchForm(forms.Form):
    q = SearchField(label="Search")


class PeopleFilterForm(forms.Form):
    """The People page's search and filters, read from the query string. An invalid value is
    a form error shown on the page, and that filter is not applied (see `applied`)."""

    q = SearchField(label="Search")
    location = KnownKeyField("Choose one of your organisation's locations.", label="Location")
    group = KnownKeyField("Choose one of your organisation's groups.", label="Group")
    active = forms.ChoiceField(
        label="Status", required=False, choices=_choices(("yes", "Active"), ("no", "Deactivated"))
    )
    source = forms.ChoiceField(label="Source", required=False, choices=_choices(*User.Source.choices))
    phone = forms.ChoiceField(
        label="Phone",
        required=False,
        choices=_choices(("usable", "Usable number"), ("missing", "Missing"), ("problem", "Could not be read")),
    )
    number_source = forms.ChoiceField(label="Number source", required=False, choices=_source_choices())
    location_source = forms.ChoiceField(label="Location source", required=False, choices=_source_choices())
    unmatched = forms.ChoiceField(label="Unmatched location", required=False, choices=_choices(("1", "Yes")))
    orphans = forms.ChoiceField(
        label="Not seen since synchronisation began", required=False, choices=_choices(("1", "Yes"))
    )

    def __init__(self, organisation, data, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["location"].queryset = Location.objects.filter(organisation=organisation)
        self.fields["group"].queryset = Group.objects.filter(organisation=organisation)

    def applied(self) -> dict[str, str]:
        """The valid, non-empty filters as text, as accounts.queries.people() reads them."""
        self.is_valid()
        values = {}
        for name, value in self.cleaned_data.items():
            if value in (None, ""):
                continue
            values[name] = str(value.pk) if hasattr(value, "pk") else value
        return values


class LocationChoiceField(forms.ModelChoiceField):
    def __init__(self, organisation, **kwargs):
        super().__init__(queryset=Location.objects.filter(organisation=organisation), empty_label=None, **kwargs)


class PersonLocationForm(forms.Form):
    def __init__(self, organisation, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"] = LocationChoiceField(organisation, label="Location")


class ProfileForm(forms.Form):
    notification_phone = forms.CharField(
        label="Notification phone number",
        required=False,
        max_length=40,
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
