"""OpenID Connect's authorization code flow with PKCE, against one organisation's provider.

Authlib builds the authorization request (`state`, `nonce`, an S256 code challenge; RFC 7636)
and exchanges the code at the token endpoint with the client secret (`client_secret_basic`).
joserfc verifies the ID token against the keys the provider publishes (its JWKS): signature
(asymmetric algorithms only), issuer, audience, expiry, issue time and the nonce of this very
attempt (OpenID Connect Core 1.0 §3.1.3.7). Nothing about the person is believed before
that.

What each attempt needs later (state, nonce, code verifier, organisation, purpose) waits in
the browser's server-side session, and is taken out once: a callback whose `state` is not
waiting there (forged, replayed, another browser's) is refused before any exchange.

The provider's discovery document and keys are cached in Django's shared cache for an hour;
a token signed by a key not in the cached set makes one fresh fetch (the provider rotated its
keys) before it is refused.
"""

import hashlib
import ipaddress
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from klaxon_site.middleware import CONTENT_SECURITY_POLICY

logger = logging.getLogger(__name__)

SCOPE = "openid email profile"
HTTP_TIMEOUT = 10
DISCOVERY_SECONDS = 3600
PENDING_KEY = "klaxon_sso_pending"
# An attempt left at the provider's page longer than this starts again.
PENDING_SECONDS = 10 * 60
# Attempts waiting in one browser at once (several tabs); older ones are dropped.
MAX_PENDING = 5
# Asymmetric algorithms only: an HMAC-signed ID token would be checked with the client secret,
# which a second Klaxon instance or a log line could leak. "none" is never accepted.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
# Clock difference tolerated between Klaxon and the provider, in seconds.
LEEWAY = 60


class OidcError(Exception):
    """The sign-in cannot go on. `reason` is a short code for the log; the message says why."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def redirect_uri() -> str:
    """Where the provider sends people back: register exactly this at Entra ID or Okta."""
    return f"{settings.KLAXON_PUBLIC_URL}{reverse('sso:callback')}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def issuer_problem(issuer: str) -> str | None:
    """Why `issuer` cannot be an issuer URL, or None. HTTPS only (OpenID Connect Discovery
    §3). A test provider on this machine's loopback, over plain HTTP, only with
    KLAXON_SSO_ALLOW_LOCAL_ISSUERS (development): in production a site administrator must not
    make Klaxon's servers call their own machine, its network or a cloud metadata address."""
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError when out of range)
    except ValueError:
        host = None
    if host is None or parts.scheme not in ("https", "http"):
        return "The issuer must be a URL such as https://login.microsoftonline.com/<tenant ID>/v2.0."
    if parts.query or parts.fragment:
        return "The issuer URL has no query string or fragment."
    if settings.KLAXON_SSO_ALLOW_LOCAL_ISSUERS and _is_loopback(host):
        return None
    if parts.scheme == "http":
        return "The issuer must use https://."
    if _is_internal(host):
        return "The issuer must be your identity provider's public address."
    return None


def _is_internal(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_link_local or address.is_unspecified or address.is_private


def _cache_key(kind: str, url: str) -> str:
    return f"sso:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


def _get_json(url: str, what: str) -> dict:
    """One JSON object from the provider. Redirects are not followed and every failure reads
    the same, so that the settings form cannot be used to map what answers where."""
    try:
        response = requests.get(
            url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"}, allow_redirects=False
        )
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError):
        document = None
    if not isinstance(document, dict) or response.status_code != 200:
        raise OidcError("unreachable", f"Klaxon could not read a {what} (JSON) at {url}.")
    return document


def discover(issuer: str, *, fresh: bool = False) -> dict:
    """The provider's discovery document (OpenID Connect Discovery 1.0 §4), checked: it must
    name exactly this issuer (§4.3: a document for another issuer is refused) and offer the
    authorization code flow."""
    key = _cache_key("discovery", issuer)
    if not fresh and (cached := cache.get(key)) is not None:
        return cached
    problem = issuer_problem(issuer)
    if problem:
        raise OidcError("issuer", problem)
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    document = _get_json(url, "discovery document")
    if document.get("issuer") != issuer:
        raise OidcError(
            "issuer",
            f"The discovery document names the issuer {str(document.get('issuer'))[:200]!r}, not {issuer!r}: "
            "copy the issuer exactly as the provider shows it.",
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(name), str) or issuer_problem(document[name]):
            raise OidcError("discovery", f"The discovery document has no usable {name}.")
    if "code" not in document.get("response_types_supported", ["code"]):
        raise OidcError("discovery", "The provider does not offer the authorization code flow.")
    cache.set(key, document, DISCOVERY_SECONDS)
    return document


def _keys(jwks_uri: str, *, fresh: bool = False) -> KeySet:
    key = _cache_key("jwks", jwks_uri)
    published = None if fresh else cache.get(key)
    if published is None:
        published = _get_json(jwks_uri, "provider's keys")
        cache.set(key, published, DISCOVERY_SECONDS)
    try:
        return KeySet.import_key_set(published)  # type: ignore[arg-type]  # checked by joserfc itself
    except (JoseError, ValueError, TypeError, KeyError):
        raise OidcError("keys", "The provider's published keys (JWKS) cannot be read.") from None


def allow_forms_to_reach(response, provider):
    """Let this page's forms be redirected to the provider's sign-in page.

    The Content-Security-Policy's `form-action 'self'` also governs where a form submission
    may be redirected (Chromium enforces it), so a page whose form starts a sign-in names the
    provider's origin, and only that one. Unchanged when the provider cannot be reached (the
    form then answers with an error page of Klaxon's own).
    """
    try:
        parts = urlsplit(discover(provider.issuer)["authorization_endpoint"])
    except OidcError:
        return response
    origin = f"{parts.scheme}://{parts.netloc}"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origin}"
    )
    return response


# The attempt, from the button to the callback ---------------------------------------------


@dataclass(frozen=True)
class Pending:
    """One attempt waiting for the provider's answer, as kept in the session."""

    state: str
    organisation_id: int
    purpose: str  # "sign-in", "test" (an administrator proving the settings), "confirm" (re-authentication)
    nonce: str
    verifier: str
    started: float
    next_url: str = ""
    user_id: int | None = None  # who started a test or a confirmation


def begin(request, provider, *, purpose: str, next_url: str = "", force_login: bool = False) -> str:
    """Remember a new attempt in the session; the provider's authorization URL to redirect to.

    `force_login` asks the provider to authenticate the person again now (`prompt=login`,
    `max_age=0`), for re-authentication before a sensitive action.
    """
    document = discover(provider.issuer)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), generate_token(64)
    client = OAuth2Session(provider.client_id, redirect_uri=redirect_uri(), scope=SCOPE, code_challenge_method="S256")
    extra = {"prompt": "login", "max_age": "0"} if force_login else {}
    url, _ = client.create_authorization_url(
        document["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier, **extra
    )
    waiting = _waiting(request)
    waiting[state] = {
        "organisation_id": provider.organisation_id,
        "purpose": purpose,
        "nonce": nonce,
        "verifier": verifier,
        "started": time.time(),
        "next_url": next_url,
        "user_id": request.user.pk if request.user.is_authenticated else None,
    }
    newest = sorted(waiting.items(), key=lambda item: item[1]["started"])[-MAX_PENDING:]
    request.session[PENDING_KEY] = dict(newest)
    return url


def _waiting(request) -> dict:
    now = time.time()
    return {
        state: attempt
        for state, attempt in request.session.get(PENDING_KEY, {}).items()
        if now - attempt["started"] < PENDING_SECONDS
    }


def take_pending(request, state: str | None) -> Pending | None:
    """The attempt this callback answers, removed from the session (each answers once)."""
    waiting = _waiting(request)
    attempt = waiting.pop(state, None) if state else None
    request.session[PENDING_KEY] = waiting
    if attempt is None:
        return None
    return Pending(state=state or "", **attempt)


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from a verified ID token."""

    issuer: str
    subject: str
    email: str
    preferred_username: str
    auth_time: int | None
    claims: dict

    @property
    def shown(self) -> str:
        """How to name them in the log and on pages."""
        return self.email or self.preferred_username or self.subject


def complete(request, provider, pending: Pending) -> Identity:
    """Exchange the callback's code and verify the ID token; the identity it proves."""
    params = request.GET
    if params.get("error"):
        description = params.get("error_description", "")[:200]
        raise OidcError("provider", f"Your identity provider answered {params['error'][:60]}: {description}")
    # RFC 9207: when the provider says who answered, it must be this organisation's provider
    # (a mix-up attack sends one provider's code to another's callback).
    if params.get("iss") and params["iss"] != provider.issuer:
        raise OidcError("issuer", "The answer came from another identity provider than this organisation's.")
    code = params.get("code")
    if not code:
        raise OidcError("protocol", "The identity provider sent no authorization code.")
    document = discover(provider.issuer)
    client = OAuth2Session(
        provider.client_id,
        provider.client_secret,
        redirect_uri=redirect_uri(),
        token_endpoint_auth_method="client_secret_basic",
    )
    try:
        token = client.fetch_token(
            document["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=pending.verifier,
            timeout=HTTP_TIMEOUT,
        )
    except OAuthError as error:
        # The provider's own words (invalid_grant: a used or expired code, invalid_client: a
        # wrong secret). Never the secret itself.
        raise OidcError("token", f"The identity provider refused the code: {error.error}.") from None
    except (requests.RequestException, ValueError) as error:
        raise OidcError(
            "unreachable", f"Klaxon could not reach the token endpoint: {error.__class__.__name__}."
        ) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("protocol", "The identity provider sent no ID token.")
    claims = verify_id_token(
        id_token,
        issuer=provider.issuer,
        client_id=provider.client_id,
        nonce=pending.nonce,
        jwks_uri=document["jwks_uri"],
    )
    return Identity(
        issuer=provider.issuer,
        subject=str(claims["sub"]),
        # Core §5.7: an address the provider does not say it verified (Okta sends
        # email_verified) proves nothing about who signed in; Entra ID omits the claim.
        email=_text(claims.get("email")) if claims.get("email_verified", True) is True else "",
        preferred_username=_text(claims.get("preferred_username")),
        auth_time=claims.get("auth_time") if isinstance(claims.get("auth_time"), int) else None,
        claims=claims,
    )


def _text(value) -> str:
    return value.strip()[:254] if isinstance(value, str) else ""


def verify_id_token(id_token: str, *, issuer: str, client_id: str, nonce: str, jwks_uri: str, now=None) -> dict:
    """The ID token's claims once its signature (by a published key), issuer, audience,
    expiry, issue time and nonce hold; OidcError saying which did not."""
    try:
        try:
            token = jwt.decode(id_token, _keys(jwks_uri), algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            token = jwt.decode(id_token, _keys(jwks_uri, fresh=True), algorithms=ALGORITHMS)
    except InvalidKeyIdError:
        raise OidcError(
            "signature", "The ID token was signed with a key your identity provider does not publish."
        ) from None
    except BadSignatureError:
        raise OidcError(
            "signature", "The ID token's signature does not verify with your identity provider's keys."
        ) from None
    except (DecodeError, JoseError, ValueError):
        raise OidcError(
            "signature", "The ID token cannot be read or uses an algorithm Klaxon does not accept."
        ) from None
    registry = JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except ExpiredTokenError:
        raise OidcError("expired", "The ID token has expired.") from None
    except (InvalidClaimError, MissingClaimError) as error:
        claim = getattr(error, "claim", "") or str(error)
        reasons = {
            "iss": ("issuer", "The ID token was issued by another identity provider."),
            "aud": ("audience", "The ID token was issued to another application, not to Klaxon."),
            "nonce": ("replay", "The ID token does not belong to this sign-in (a replayed or foreign token)."),
        }
        reason, message = reasons.get(claim, ("claims", f"The ID token's {claim} claim is missing or invalid."))
        raise OidcError(reason, message) from None
    audiences = token.claims["aud"] if isinstance(token.claims["aud"], list) else [token.claims["aud"]]
    # Core §3.1.3.7 (4, 5): with several audiences, the token must have been issued to Klaxon.
    if len(audiences) > 1 and token.claims.get("azp") != client_id:
        raise OidcError("audience", "The ID token was issued to another application, not to Klaxon.")
    return dict(token.claims)
