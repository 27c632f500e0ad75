"""Counters that stop guessing and mail floods without letting strangers lock people out.

- Failed sign-ins: 5 per (organisation, account, client address) and 50 per client address in
  15 minutes. The account is the person the login names (so every spelling of it counts
  together) or, when it names no single person, the login's identity key. A stranger at
  another address therefore never blocks the owner. A mistyped organisation counts only
  against the address.
- Wrong passwords at /confirm-password/: 5 per person in 15 minutes; then even the right one
  is refused until the window ends.
- Password-reset and invitation mails: 3 per recipient address and 20 per client address in
  an hour; beyond that nothing is sent, and the page answers as usual.

The client address is `klaxon_site.lib.client_address` (KLAXON_TRUSTED_PROXIES decides
whether X-Forwarded-For is believed). The counters are klaxon_site/lib/counters.py's: fixed
windows in Django's shared cache.
"""

from accounts.identity import identity_key
from klaxon_site.lib.client_address import client_address
from klaxon_site.lib.counters import count, current, reset

WINDOW_SECONDS = 15 * 60
MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 50
MAX_CONFIRM_FAILURES = 5
MAIL_WINDOW_SECONDS = 60 * 60
MAX_MAILS_PER_RECIPIENT = 3
MAX_MAILS_PER_ADDRESS = 20


def _key(*parts) -> str:
    """A counter name from parts that may hold any text (a typed login, an IPv6 address)."""
    return "\x1f".join(str(part) for part in parts)


# Sign-in --------------------------------------------------------------------------------


def _sign_in_counters(request, organisation, account) -> list[tuple[str, int]]:
    address = client_address(request)
    counters = [(_key("sign-in-address", address), MAX_FAILURES_PER_ADDRESS)]
    if organisation is not None:
        counters.append((_key("sign-in", organisation.pk, account, address), MAX_FAILURES))
    return counters


def account_for(person, typed: str) -> str:
    """What failures are counted against: the person the login names, else what was typed."""
    return f"person:{person.pk}" if person is not None else f"login:{identity_key(typed)}"


def sign_in_blocked(request, organisation, account: str) -> bool:
    """`organisation` is None when the typed one does not exist."""
    counters = _sign_in_counters(request, organisation, account)
    return any(current(name, WINDOW_SECONDS) >= limit for name, limit in counters)


def sign_in_failed(request, organisation, account: str) -> None:
    for name, _ in _sign_in_counters(request, organisation, account):
        count(name, WINDOW_SECONDS)


def sign_in_succeeded(request, organisation, account: str) -> None:
    """The owner got in: their failures from this address are forgotten (not the address's)."""
    for name, _ in _sign_in_counters(request, organisation, account)[1:]:
        reset(name, WINDOW_SECONDS)


# Confirming the password ----------------------------------------------------------------


def _confirm_counter(user) -> str:
    return _key("confirm-password", user.pk)


def confirm_blocked(user) -> bool:
    return current(_confirm_counter(user), WINDOW_SECONDS) >= MAX_CONFIRM_FAILURES


def confirm_failed(user) -> bool:
    """Count a wrong password; True when that used up the person's allowance."""
    return count(_confirm_counter(user), WINDOW_SECONDS) >= MAX_CONFIRM_FAILURES


def confirm_succeeded(user) -> None:
    reset(_confirm_counter(user), WINDOW_SECONDS)


# Mail -----------------------------------------------------------------------------------


def mail_allowed(recipient: str, address: str) -> bool:
    """Whether one more reset or invitation mail may go to `recipient` for a request from
    `address`; counts it when it may."""
    to_recipient = _key("mail-to", identity_key(recipient))
    from_address = _key("mail-from", address)
    if (
        current(to_recipient, MAIL_WINDOW_SECONDS) >= MAX_MAILS_PER_RECIPIENT
        or current(from_address, MAIL_WINDOW_SECONDS) >= MAX_MAILS_PER_ADDRESS
    ):
        return False
    count(to_recipient, MAIL_WINDOW_SECONDS)
    count(from_address, MAIL_WINDOW_SECONDS)
    return True
