"""The SCIM resources Klaxon serves, described with scim2-models (RFC 7643)."""

from django.conf import settings
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    EnterpriseUser,
    ETag,
    Extension,
    Filter,
    Group,
    Pagination,
    Patch,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

KLAXON_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:klaxon:2.0:User"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

MAX_PAGE_SIZE = 200
MAX_PAYLOAD_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # what the parser enforces (413 beyond)
MAX_PATCH_OPERATIONS = 1000
MAX_FILTER_LENGTH = 2000
# Attributes kept only to echo them back (scim_sync.resources.check_stored_size): each text,
# and a person's whole stored document as JSON. Generous for any real directory: a photo
# URL or a formatted address is a few hundred characters.
MAX_ATTRIBUTE_CHARS = 2048
MAX_STORED_BYTES = 64 * 1024
# Comparisons, presence tests, and/or/not and value paths in one filter. Identity providers
# send one or two; a few thousand `or` terms would make a query the database chews on for long.
MAX_FILTER_NODES = 50


class KlaxonUser(Extension):
    """Where a person works and the number Klaxon calls, as the provider sends them."""

    __schema__ = URN(KLAXON_USER_SCHEMA)

    location: str | None = None
    notification_phone_number: str | None = None


class KlaxonEmail(Email):
    """An e-mail address kept exactly as sent.

    scim2-models types it as pydantic's EmailStr, which lower-cases the domain (drift
    the provider would see), refuses "" (Entra's way of clearing it) and refuses
    special-use domains such as contoso.local.
    """

    value: str | None = None


class ScimUser(User[EnterpriseUser | KlaxonUser]):
    emails: list[KlaxonEmail] | None = None  # type: ignore[assignment]  # (a narrower Email, as sent)


# What identity providers really send (docs/idp-behaviour.md): attributes we do
# not model are ignored, Entra's remove-with-value selects what to remove, and a
# filter path matching nothing (emails[type eq "work"].value) creates the entry.
TOLERANT = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

SERVICE_PROVIDER_CONFIG = ServiceProviderConfig(
    documentation_uri="https://klaxon.io/docs/scim",  # type: ignore[arg-type]  # (pydantic reads the text)
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=MAX_PAYLOAD_BYTES),
    filter=Filter(supported=True, max_results=MAX_PAGE_SIZE),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=True),
    etag=ETag(supported=True),
    pagination=Pagination(
        cursor=False,
        index=True,
        default_pagination_method="index",  # type: ignore[arg-type]  # (pydantic reads the text)
        default_page_size=100,
        max_page_size=MAX_PAGE_SIZE,
    ),
    authentication_schemes=[
        AuthenticationScheme(
            type="oauthbearertoken",  # type: ignore[arg-type]
            name="OAuth Bearer Token",
            description="The secret token from Klaxon's Configuration > Synchronisation page.",
            primary=True,
        )
    ],
)

PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, KlaxonUser, Group],
    resource_types=[ResourceType.from_resource(ScimUser), ResourceType.from_resource(Group)],
    config=SERVICE_PROVIDER_CONFIG,
    policy=TOLERANT,
)
