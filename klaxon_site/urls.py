from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from klaxon_site import health


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; the icon is static/img/favicon.svg
    (a temporary redirect: its static URL changes with its content)."""
    return HttpResponseRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    # No trailing slash: the paths SECURE_REDIRECT_EXEMPT names (^healthz$, ^readyz$).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("scim/v2/", include("scim_sync.urls")),
    path("configuration/synchronisation/", include("scim_sync.portal_urls")),
    path("locations/", include("locations.urls")),
    path("", include("sso.urls")),
    path("", include("mfa.urls")),
    path("", include("accounts.urls")),
]
