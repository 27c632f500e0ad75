"""The address of the client behind the load balancer.

`X-Forwarded-For` is written by whoever sends the request, so only the entries added by
proxies Klaxon trusts are believed: with KLAXON_TRUSTED_PROXIES = N (the number of proxies
in front of Klaxon that append to the header, 0 by default), the client is the N-th
address from the right. With 0, or when the header has fewer entries than that, the
connection's own address (REMOTE_ADDR) is the client.
"""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = getattr(settings, "KLAXON_TRUSTED_PROXIES", 0)
    if trusted <= 0:
        return remote
    hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(hops) < trusted:
        return remote
    candidate = hops[-trusted]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
