import json
from urllib.parse import quote
from tests.payloads import load

def show(tag, r):
    print(tag, r.status_code, r.content.decode()[:300])

def test_explore(scim, acme):
    r = scim.post("/Users", load("entra/create_user"))
    uid = r.json()["id"]
    r = scim.post("/Users", load("entra/create_user_with_nulls"))
    for f in ['UserName Eq "JO@acme.test"', 'externalId eq jyoung', 'externalId eq "JYOUNG"', 'emails[type eq "work"].value eq "jyoung@contoso.com"',
              'emails.value co "contoso"', 'name.familyName eq "young"', 'meta.lastModified gt "2000-01-01T00:00:00Z"',
              'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "operations"',
              'urn:ietf:params:scim:schemas:extension:klaxon:2.0:User:location eq "London"',
              'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr',
              'active eq false', 'not (userName sw "jo")', 'userName gt "k"', 'foo eq "x"', 'userName eq', 'userName eq "a" and', 'title eq "Shift lead"',
              'emails[type eq "home"].value eq "x"', 'emails[value ew ".com"]', 'name.FamilyName eq "Jensen" or displayName co "joy"',
              'meta.lastModified gt "yesterday"', 'active eq "x"', 'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "Test"', 'id eq "nope"',
              'manager eq "x"', 'emails eq "jyoung@contoso.com"', 'userName ne "jyoung@contoso.com"', 'displayName pr', 'externalId pr']:
        r = scim.get("/Users?filter=" + quote(f) + "&attributes=userName")
        print(f, r.status_code, [x["userName"] for x in r.json().get("Resources", [])] if r.status_code == 200 else r.content.decode()[:200])
    for q in ["sortBy=userName&sortOrder=descending", "sortBy=name.familyName", "sortBy=foo", "startIndex=0&count=1", "count=-1", "count=1000", "count=abc",
              "attributes=userName,emails.value", "excludedAttributes=emails,name.givenName,urn:ietf:params:scim:schemas:extension:klaxon:2.0:User", "attributes=urn:ietf:params:scim:schemas:extension:klaxon:2.0:User:location", "attributes=id"]:
        show(q, scim.get("/Users?" + q))
