from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from bench.ceiling.models import Event, Person


@csrf_exempt  # a machine client, like an identity provider
def ceiling(request):
    """One indexed SELECT and one INSERT: the cheapest useful request on this stack."""
    person = Person.objects.filter(user_name=request.GET.get("name", "")).first()
    if person is not None:
        Event.objects.create(person=person, method=request.method)
    return JsonResponse({"found": person is not None})
