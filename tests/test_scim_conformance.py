"""The third-party checker scim2-tester, run in-process against Klaxon (zero failures)."""

import pytest
from django.core.wsgi import get_wsgi_application
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

from scim_sync.credentials import endpoint_for, generate_token

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


@pytest.mark.django_db(transaction=True)
def test_scim2_tester_finds_no_error(acme):
    endpoint = endpoint_for(acme.organisation)
    token = generate_token(acme.organisation)
    client = WSGISCIMClient(
        get_wsgi_application(),
        base_url=f"http://testserver/scim/v2/{endpoint.key}",
        headers={"Authorization": f"Bearer {token}"},
    )
    client.discover()
    results = check_server(client)
    failed = [f"{r.title}: {r.reason}" for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    passed = [r for r in results if r.status in PASSED]
    assert not failed, "\n".join(failed)
    # Discovery must parse: a short run means the checker gave up early.
    assert len(passed) > 60
