from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm


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
            self.user_cache = authenticate(
                self.request, organisation=organisation, username=username, password=password
            )
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    def get_invalid_login_error(self):
        return forms.ValidationError(
            "That organisation, username and password do not match an active account.",
            code="invalid_login",
        )
