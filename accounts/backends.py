"""Sign-in scoped to an organisation.

Two organisations may each have a jo@example.com, so the portal's sign-in form names the
organisation (its slug, in any letter case) and the person is looked up within it by
userName or e-mail, both compared as identity keys (accounts/identity.py). Without an
organisation (Django admin's form) only Klaxon staff can sign in, by userName.

Who a typed login names, in this order:

1. the person whose userName it is, when they can sign in (active, with a password): a
   userName match wins outright;
2. otherwise the active people with a password whose e-mail it is (at most
   MAX_SHARED_ADDRESS of them): the password is checked against each and the one it fits
   signs in; if it fits several, the person must use their username.

People without a password (the identity provider creates everyone so) and deactivated
people never count: a provider-created person who shares an administrator's e-mail, or
whose userName is that e-mail, must not lock the administrator out.
"""

from dataclasses import dataclass

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

from accounts.identity import identity_key
from accounts.models import Organisation, User

# People sharing one e-mail address whose passwords are tried; beyond that, use the username.
MAX_SHARED_ADDRESS = 5


class AmbiguousSignIn(Exception):
    """The password fits more than one person sharing the typed e-mail address.

    Raised through django.contrib.auth.authenticate() (which only swallows PermissionDenied),
    so that the sign-in form can ask for the username instead.
    """


def organisation_by_slug(slug: str | None) -> Organisation | None:
    """The organisation a person typed, in any letter case (slugs are ASCII)."""
    if not slug:
        return None
    found = list(Organisation.objects.filter(slug__iexact=slug)[:2])
    exact = [organisation for organisation in found if organisation.slug == slug]
    return exact[0] if exact else found[0] if len(found) == 1 else None


def can_sign_in(person: User) -> bool:
    return person.is_active and person.has_usable_password()


def _with_password(people):
    return people.filter(is_active=True).exclude(password="").exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)


@dataclass(frozen=True)
class Login:
    """Whom a typed login names in one organisation (see the module's docstring)."""

    typed: str
    candidates: tuple[User, ...]

    @classmethod
    def find(cls, organisation: Organisation | None, typed: str) -> "Login":
        key = identity_key(typed)
        if organisation is None or not key:
            return cls(typed, ())
        people = User.objects.filter(organisation=organisation)
        by_user_name = people.filter(user_name_key=key).first()
        if by_user_name is not None and can_sign_in(by_user_name):
            return cls(typed, (by_user_name,))
        by_email = _with_password(people.filter(email_key=key)).order_by("pk")[:MAX_SHARED_ADDRESS]
        return cls(typed, tuple(by_email))

    @property
    def person(self) -> User | None:
        """The one person this login names, if it names exactly one."""
        return self.candidates[0] if len(self.candidates) == 1 else None


class OrganisationScopedBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, organisation=None, login=None, **kwargs):
        """`organisation` is a slug (or an Organisation); `login` a Login already found for
        it (the sign-in form needs it first, to count failures against the right account)."""
        if not username or password is None:
            return None
        if login is not None:
            candidates = login.candidates
        elif organisation:
            if isinstance(organisation, str):
                organisation = organisation_by_slug(organisation)
            candidates = Login.find(organisation, username).candidates
        else:
            candidates = tuple(User.objects.filter(organisation=None, user_name_key=identity_key(username))[:1])
        if not candidates:
            # Run the hasher anyway so timing does not reveal whether the person exists.
            User().set_password(password)
            return None
        fits = [
            person for person in candidates if person.check_password(password) and self.user_can_authenticate(person)
        ]
        if len(fits) > 1:
            raise AmbiguousSignIn
        return fits[0] if fits else None
