from django.urls import path

from mfa import views

app_name = "mfa"
urlpatterns = [
    path("sign-in/two-factor/", views.verify, name="verify"),
    path("sign-in/two-factor/set-up/", views.set_up_at_sign_in, name="set-up-at-sign-in"),
    path("profile/two-factor/", views.set_up, name="set-up"),
    path("profile/two-factor/recovery-codes/", views.new_recovery_codes, name="recovery-codes"),
    path("profile/two-factor/remove/", views.remove, name="remove"),
]
