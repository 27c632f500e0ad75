from django.contrib.auth.middleware import get_user
from django.utils.functional import SimpleLazyObject

from sso import policy


def identity_provider_roles(get_response):
    """Decides, on every request, whether the signed-in person is a site administrator when
    their organisation's identity provider chooses them (sso/policy.py).

    Lazy like Django's own request.user: requests that never look at the user (SCIM) cost
    nothing; the others pay one query for the organisation's provider.
    """

    def middleware(request):
        def user():
            found = get_user(request)
            policy.apply(found, request.session)
            return found

        request.user = SimpleLazyObject(user)
        return get_response(request)

    return middleware
