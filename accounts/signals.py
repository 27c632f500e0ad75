from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from accounts.models import PortalSession


@receiver(user_logged_in)
def remember_session(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session") and request.session.session_key:
        PortalSession.objects.get_or_create(session_key=request.session.session_key, defaults={"user": user})
