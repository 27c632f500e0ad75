def test_x(scim, client):
    for path in ["/scim/v2/short/Users", "/scim/v2/" + "a"*70 + "/Users", "/scim/v2/", "/scim/v2/Users"]:
        r = client.get(path, HTTP_AUTHORIZATION=f"Bearer {scim.token}")
        print(path[:40], r.status_code, r["Content-Type"], r.content[:100])
    r = scim.request("options", "/Users")
    print(r.status_code, r.content[:500])
    r = scim.request("head", "/Users")
    print(r.status_code, r.content[:500])
    r = scim.post("/Groups/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "attributes": ["displayName"], "filter": 'displayName eq "x"'})
    print(r.status_code, r.content[:500])
