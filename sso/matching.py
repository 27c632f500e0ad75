"""Which Klaxon person an identity the provider proved is. Single sign-on never creates
anyone: SCIM is the source of truth for who works for the organisation.

1. A person already linked to this issuer and subject (`sub`) is that person, whatever e-mail
   or username the provider sends today.
2. Otherwise, the first time: the provider's `email` and `preferred_username` (Entra ID's UPN,
   Okta's login) are compared by identity key (accounts/identity.py: any Unicode form and
   letter case) with the organisation's userNames and e-mail addresses. A userName match wins
   over an e-mail match; exactly one person must match. That person is then linked, unless
   they are already linked to another subject (someone else at the provider).

The result says why nobody matched: unknown, deactivated, ambiguous, or linked elsewhere.
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


def find(organisation: Organisation, identity: Identity) -> Match:
    """The person `identity` is, without linking anyone (a test sign-in uses this too)."""
    link = (
        SsoLink.objects.filter(organisation=organisation, issuer=identity.issuer, subject=identity.subject)
        .select_related("user")
        .first()
    )
    if link is not None:
        return _checked(link.user)
    keys = {key for key in (identity_key(identity.email), identity_key(identity.preferred_username)) if key}
    if not keys:
        return Match(None, "unknown")
    people = User.objects.filter(organisation=organisation).filter(Q(user_name_key__in=keys) | Q(email_key__in=keys))[
        :10
    ]
    by_user_name = [person for person in people if person.user_name_key in keys]
    candidates = by_user_name or list(people)
    if not candidates:
        return Match(None, "unknown")
    if len(candidates) > 1:
        return Match(None, "ambiguous")
    [person] = candidates
    other = SsoLink.objects.filter(user=person).exclude(issuer=identity.issuer, subject=identity.subject).first()
    if other is not None and other.issuer == identity.issuer:
        return Match(person, "linked_elsewhere")
    return _checked(person)


def _checked(person: User) -> Match:
    if not person.is_active:
        return Match(person, "deactivated")
    return Match(person)


def link(person: User, identity: Identity) -> None:
    """Remember that `identity` is `person` (from now on the subject alone identifies them),
    and when they last signed in. A link to a previous issuer is replaced."""
    now = timezone.now()
    try:
        with transaction.atomic():
            SsoLink.objects.update_or_create(
                user=person,
                defaults={
                    "organisation_id": person.organisation_id,
                    "issuer": identity.issuer,
                    "subject": identity.subject,
                    "last_sign_in_at": now,
                },
            )
    except IntegrityError:
        # Two first sign-ins of the same subject at once: the other one linked it.
        pass
