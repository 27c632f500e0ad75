from django.urls import path

from sso import portal, views

app_name = "sso"
urlpatterns = [
    path("sign-in/sso/", views.start, name="start"),
    path("sign-in/sso/<slug:slug>/", views.organisation_sign_in, name="organisation"),
    path("sign-in/sso/<slug:slug>/continue/", views.begin, name="begin"),
    path("sso/callback/", views.callback, name="callback"),
    path("sso/confirm/", views.confirm, name="confirm"),
    path("configuration/single-sign-on/", portal.single_sign_on, name="single-sign-on"),
    path("configuration/single-sign-on/settings/", portal.save_settings, name="save-settings"),
    path("configuration/single-sign-on/test/", portal.test_sign_in, name="test"),
    path("configuration/single-sign-on/require/", portal.require, name="require"),
    path("configuration/single-sign-on/allow-passwords/", portal.allow_passwords, name="allow-passwords"),
    path("configuration/single-sign-on/break-glass/", portal.save_break_glass, name="break-glass"),
    path("configuration/single-sign-on/remove/", portal.remove, name="remove"),
]
