"""How the portal writes values for people to read: phone numbers the way people of the
organisation dial them, and where a value came from. (Times: accounts/time_zones.py.)"""

import phonenumbers

from accounts import reachability


def phone_number(e164: str, region: str) -> str:
    """A number of the organisation's own country in national format (07400 123456), any
    other in international format (+1 415-555-0100), so that it can be dialled, or typed
    back into the profile form, from the organisation's country."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code == phonenumbers.country_code_for_region(region or ""):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def value_source(source: str, person) -> str:
    """Where a person's number or location came from (User.number_source, location_source),
    in the words of accounts.reachability.source_label."""
    if source:
        return reachability.source_label(source)
    return "nothing sent" if person.is_idp_managed else "not set"
