"""Shared personas: two organisations, each with a site administrator and a user."""

from dataclasses import dataclass

import pytest

from accounts import actions
from accounts.models import Organisation, User
from locations.actions import create_location

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production hashing is slow on purpose; tests need many hashes, not strong ones."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def mail_on_the_request_path(settings):
    """Reset and invitation mails are sent in a thread after the answer in production
    (accounts/mail.py); tests send them at once, so the outbox holds them when the response
    arrives and the mail sees the test's uncommitted rows."""
    settings.KLAXON_BACKGROUND_MAIL = False


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
        organisation,
        f"admin@{slug}.test",
        email=f"admin@{slug}.test",
        password=PASSWORD,
        role=User.Role.SITE_ADMIN,
        given_name="Ada",
        family_name="Admin",
    )
    user = actions.create_manual_user(
        organisation,
        f"jo@{slug}.test",
        email=f"jo@{slug}.test",
        password=PASSWORD,
        given_name="Jo",
        family_name="User",
    )
    return Tenant(organisation, admin, user)


@pytest.fixture
def acme(db) -> Tenant:
    return make_tenant("Acme Ltd", "acme")


@pytest.fixture
def globex(db) -> Tenant:
    return make_tenant("Globex Corporation", "globex", region="US", locations=("Springfield",))


class ScimClient:
    """Talks SCIM to one organisation's endpoint through Django's test client."""

    def __init__(self, client, tenant: Tenant):
        from scim_sync.credentials import endpoint_for, generate_token

        self.client = client
        self.tenant = tenant
        self.endpoint = endpoint_for(tenant.organisation)
        self.token = generate_token(tenant.organisation)
        self.base = f"/scim/v2/{self.endpoint.key}"

    def headers(self, token=None, **extra):
        return {"HTTP_AUTHORIZATION": f"Bearer {token or self.token}", **extra}

    def request(self, method, path, body=None, *, token=None, content_type="application/scim+json", **extra):
        import json

        kwargs = self.headers(token, **extra)
        if body is not None:
            kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["content_type"] = content_type
        return getattr(self.client, method)(self.base + path, **kwargs)

    def get(self, path, **kw):
        return self.request("get", path, **kw)

    def post(self, path, body, **kw):
        return self.request("post", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("put", path, body, **kw)

    def patch(self, path, body, **kw):
        return self.request("patch", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("delete", path, **kw)


@pytest.fixture
def scim(client, acme) -> ScimClient:
    return ScimClient(client, acme)


@pytest.fixture
def scim_globex(client, globex) -> ScimClient:
    return ScimClient(client, globex)
