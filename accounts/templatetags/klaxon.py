from django import template

from accounts.actions import national_format

register = template.Library()


@register.filter
def national(e164: str) -> str:
    """+447911123456 → 07911 123456: how people write their own numbers."""
    return national_format(e164)
