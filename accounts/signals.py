from django.contrib.auth.signals import user_logged_in
from django.dispatch import Signal, receiver

from accounts.access import mark_recent_sign_in
from accounts.models import PortalSession

# Sent (with `organisation` and `user`) after the identity provider deactivates a person,
# so that other apps can react without this app importing them.
user_deactivated_by_provider = Signal()


@receiver(user_logged_in)
def remember_session(sender, request, user, **kwargs):
    """Record the session (so deactivation can end it) and when the sign-in happened."""
    if request is None or not hasattr(request, "session"):
        return
    mark_recent_sign_in(request)
    if request.session.session_key:
        PortalSession.objects.get_or_create(session_key=request.session.session_key, defaults={"user": user})
