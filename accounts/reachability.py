"""Which value the identity provider sent decides how Klaxon reaches a person.

The Klaxon extension (`location`, `notificationPhoneNumber`) always wins when it carries a
value. Without it, an organisation's fallbacks read what Entra ID's and Okta's default
mappings already send: the notification number from the standard phone numbers, in the
organisation's order of types (mobile by default), and the location from one field of the
work address (the city, `locality`, by default). Either fallback can be turned off. A value
an administrator or the person chose in Klaxon is kept until the provider's value changes,
exactly as for the extension.

The provider's candidates are kept per person in `User.idp_contact` (written by
`provision_user` from what the SCIM layer extracted), so that changing an organisation's
fallbacks recomputes everyone without reading SCIM documents.
"""

from dataclasses import dataclass

# Phone types an administrator may order (RFC 7643 §4.1.2 canonical values; Entra sends
# mobile, work and fax, Okta mobilePhone as mobile).
PHONE_TYPES = ("mobile", "work", "home", "other")
# Work-address fields that can name a location (RFC 7643 §4.1.2), with what the portal calls them.
ADDRESS_FIELDS = {
    "locality": "work city",
    "region": "work region",
    "postalCode": "work postal code",
    "country": "work country",
}

KLAXON = "klaxon"
ADMINISTRATOR = "administrator"
PERSON = "person"
SET_IN_KLAXON = (ADMINISTRATOR, PERSON)


@dataclass(frozen=True)
class ProviderValue:
    raw: str | None
    source: str  # "klaxon", "phone:<type>", "address:<field>", or "" (nothing sent)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def provider_number(phone_types: list[str], contact: dict) -> ProviderValue:
    if _text(contact.get("number")):
        return ProviderValue(contact["number"], KLAXON)
    phones = {str(kind).lower(): value for kind, value in contact.get("phones") or [] if _text(value)}
    for kind in phone_types:
        if kind in phones:
            return ProviderValue(phones[kind], f"phone:{kind}")
    return ProviderValue(None, "")


def provider_location(address_field: str, contact: dict) -> ProviderValue:
    if _text(contact.get("location")):
        return ProviderValue(contact["location"], KLAXON)
    value = _text((contact.get("address") or {}).get(address_field)) if address_field else None
    if value:
        return ProviderValue(value, f"address:{address_field}")
    return ProviderValue(None, "")


def source_label(source: str) -> str:
    """What the portal says about where a value came from."""
    if source == KLAXON:
        return "from the Klaxon attribute"
    if source == ADMINISTRATOR:
        return "set by an administrator"
    if source == PERSON:
        return "set by the person"
    if source.startswith("phone:"):
        return f"from the {source.removeprefix('phone:')} number"
    if source.startswith("address:"):
        return f"from the {ADDRESS_FIELDS.get(source.removeprefix('address:'), 'work address')}"
    return "nothing sent"
