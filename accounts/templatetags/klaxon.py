from django import template

from accounts import display
from accounts.actions import national_format

register = template.Library()


@register.filter
def national(e164: str) -> str:
    """+447911123456 → 07911 123456: how people write their own numbers."""
    return national_format(e164)


@register.filter
def phone(e164: str, region: str) -> str:
    """National format for the organisation's own country, international otherwise
    (accounts.display.phone_number): `{{ number|phone:organisation.phone_region }}`."""
    return display.phone_number(e164, region)
