"""The benchmark's yardstick: the cheapest useful request this stack can serve.

One indexed SELECT and one INSERT, no framework beyond Django itself. Mounted only
when KLAXON_BENCH_CEILING is on (bench/run.py starts the server that way).
"""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.identity import identity_key
from accounts.models import User
from scim_sync.models import ScimActivity


@csrf_exempt  # Like the SCIM views: machine clients with no session or cookie.
def ceiling(request, slug):
    name = request.GET.get("name", "")
    row = (
        User.objects.filter(organisation__slug=slug, user_name_key=identity_key(name))
        .values("pk", "organisation_id")
        .first()
    )
    if row:
        ScimActivity.objects.create(
            organisation_id=row["organisation_id"], method=request.method, resource_type="Ceiling", status=200
        )
    return JsonResponse({"found": row is not None})
