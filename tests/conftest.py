"""Shared personas: two organisations, each with a site administrator and a user."""

from dataclasses import dataclass

import pytest

from accounts import actions
from accounts.models import Organisation, User
from locations.actions import create_location

PASSWORD = "correct-horse-battery"


@dataclass
class Tenant:
    organisation: Organisation
    admin: User
    user: User


def make_tenant(name: str, slug: str, *, region: str = "GB", locations=("London", "Leeds")) -> Tenant:
    organisation = actions.create_organisation(name, slug, phone_region=region)
    for location in locations:
        create_location(organisation, location)
    admin = actions.create_manual_user(
        organisation, f"admin@{slug}.test", email=f"admin@{slug}.test", password=PASSWORD,
        role=User.Role.SITE_ADMIN, given_name="Ada", family_name="Admin",
    )
    user = actions.create_manual_user(
        organisation, f"jo@{slug}.test", email=f"jo@{slug}.test", password=PASSWORD,
        given_name="Jo", family_name="User",
    )
    return Tenant(organisation, admin, user)


@pytest.fixture
def acme(db) -> Tenant:
    return make_tenant("Acme Ltd", "acme")


@pytest.fixture
def globex(db) -> Tenant:
    return make_tenant("Globex Corporation", "globex", region="US", locations=("Springfield",))
