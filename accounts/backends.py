"""Sign-in scoped to an organisation.

Two organisations may each have a jo@example.com, so the portal's sign-in form names the
organisation (its slug) and the person is looked up within it by userName or e-mail.
Without an organisation (Django admin's form) only Klaxon staff can sign in.
"""

from django.contrib.auth.backends import ModelBackend
from django.db.models import Q

from accounts.models import User


class OrganisationScopedBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, organisation=None, **kwargs):
        if not username or password is None:
            return None
        if organisation:
            people = User.objects.filter(organisation__slug=organisation).filter(
                Q(user_name__lower=username.lower()) | Q(email__lower=username.lower())
            )
        else:
            people = User.objects.filter(organisation=None, user_name__lower=username.lower())
        candidates = list(people[:2])
        if len(candidates) != 1:
            # Run the hasher anyway so timing does not reveal whether the person exists.
            User().set_password(password)
            return None
        user = candidates[0]
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
