"""Which Klaxon person an identity the provider proved is. Single sign-on never creates
anyone: SCIM is the source of truth for who works for the organisation.

1. A person already linked to this issuer and subject (`sub`) is that person, whatever e-mail
   or username the provider sends today.
2. Otherwise, the first time, by identity key (accounts/identity.py: any Unicode form and
   letter case): the provider's `email`, when it has not said the address is unverified
   (oidc.Identity), against the organisation's userNames and e-mail addresses, a userName
   match winning; without one, `preferred_username` (Entra ID's UPN, Okta's login) against
   userNames only. Exactly one person must match, not already linked to someone else at
   this provider.
3. A site administrator is never linked by such a match in someone else's sign-in: SCIM can
   write any person's e-mail address, so whoever holds the token and any account at the
   provider could otherwise become them. Administrators link their provider account
   themselves, with the Test sign-in or a confirmation while signed in (`claimant`).

The result says why nobody matched: unknown, deactivated, ambiguous, linked elsewhere, or an
administrator who has not linked their account yet.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.identity import identity_key
from accounts.models import Organisation, User
from sso.models import SsoLink
from sso.oidc import Identity


@dataclass(frozen=True)
class Match:
    person: User | None
    problem: str = ""  # "", "unknown", "deactivated", "ambiguous", "linked_elsewhere"

    @property
    def ok(self) -> bool:
        return self.person is not None and not self.problem


def find(organisation: Organisation, identity: Identity, *, claimant: User | None = None) -> Match:
    """The person `identity` is, without linking anyone (a test sign-in uses this too).
    `claimant`: the signed-in person a test sign-in or a confirmation is for."""
    link = (
        SsoLink.objects.filter(organisation=organisation, issuer=identity.issuer, subject=identity.subject)
        .select_related("user")
        .first()
    )
    if link is not None:
        return _checked(link.user)
    people = User.objects.filter(organisation=organisation)
    if email := identity_key(identity.email):
        people = people.filter(Q(user_name_key=email) | Q(email_key=email))
    elif username := identity_key(identity.preferred_username):
        people = people.filter(user_name_key=username)
    else:
        return Match(None, "unknown")
    found = list(people[:10])
    candidates = [person for person in found if email and person.user_name_key == email] or found
    if not candidates:
        return Match(None, "unknown")
    if len(candidates) > 1:
        return Match(None, "ambiguous")
    [person] = candidates
    other = SsoLink.objects.filter(user=person).exclude(issuer=identity.issuer, subject=identity.subject).first()
    if other is not None and other.issuer == identity.issuer:
        return Match(person, "linked_elsewhere")
    if person.role == User.Role.SITE_ADMIN and person != claimant:
        return Match(person, "administrator_unlinked")
    return _checked(person)


def _checked(person: User) -> Match:
    if not person.is_active:
        return Match(person, "deactivated")
    return Match(person)


def link(person: User, identity: Identity) -> None:
    """Remember that `identity` is `person` (from now on the subject alone identifies them),
    and when they last signed in. A link to a previous issuer is replaced."""
    now = timezone.now()
    organisation_id = person.organisation_id
    assert organisation_id is not None  # staff belong to no organisation and never get here
    try:
        with transaction.atomic():
            SsoLink.objects.update_or_create(
                user=person,
                defaults={
                    "organisation_id": organisation_id,
                    "issuer": identity.issuer,
                    "subject": identity.subject,
                    "last_sign_in_at": now,
                },
            )
    except IntegrityError:
        # Two first sign-ins of the same subject at once: the other one linked it.
        pass
