from django.urls import path

from scim_sync import portal

app_name = "scim_sync"
urlpatterns = [
    path("", portal.synchronisation, name="synchronisation"),
    path("generate-token/", portal.generate_token, name="generate-token"),
    path("rotate-token/", portal.rotate_token, name="rotate-token"),
    path("revoke-token/", portal.revoke_token, name="revoke-token"),
    path("end-grace-period/", portal.end_grace_period, name="end-grace-period"),
    path("label-token/", portal.label_token, name="label-token"),
    path("rotate-endpoint/", portal.rotate_endpoint, name="rotate-endpoint"),
    path("fallbacks/", portal.save_fallbacks, name="save-fallbacks"),
    path("time-zone/", portal.save_time_zone, name="save-time-zone"),
    path("activity.csv", portal.activity_csv, name="activity-csv"),
]
