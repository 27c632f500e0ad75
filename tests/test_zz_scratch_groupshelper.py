import json
def test_dump(scim):
    r = scim.get("/Schemas")
    for s in r.json()["Resources"]:
        print(s["id"], [a["name"] for a in s["attributes"]], s["meta"])
    r = scim.get("/Schemas/urn:ietf:params:scim:schemas:extension:klaxon:2.0:User")
    print(r.status_code, json.dumps(r.json(), indent=1))
    r = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
    print(r.status_code, json.dumps(r.json(), indent=1)[:5000])
    print(scim.get("/ResourceTypes/User").json())
    print(scim.get("/ResourceTypes/Nope").json())
    print(scim.get("/Schemas?filter=id eq \"x\"").json())
