from django.urls import path

from scim_sync import portal

app_name = "scim_sync"
urlpatterns = [
    path("", portal.synchronisation, name="synchronisation"),
    path("generate-token/", portal.generate_token, name="generate-token"),
    path("rotate-token/", portal.rotate_token, name="rotate-token"),
    path("rotate-endpoint/", portal.rotate_endpoint, name="rotate-endpoint"),
    path("fallbacks/", portal.save_fallbacks, name="save-fallbacks"),
]
