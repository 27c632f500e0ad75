import json
from tests.payloads import load

def show(tag, r):
    print(tag, r.status_code, r.content.decode()[:600])

def test_explore(scim, acme):
    r = scim.post("/Users", load("entra/create_user"))
    uid = r.json()["id"]
    etag = r["ETag"]
    show("garbage", scim.patch(f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": "sometimes"}]}))
    b = load("entra/create_user"); b["userName"]="x1"; b["externalId"]="x1"; b["active"]="sometimes"
    show("garbage post", scim.post("/Users", b))
    b["active"]="false"
    show("lower false post", scim.post("/Users", b))
    for op in ["ADD", "rEpLaCe"]:
        show(op, scim.patch(f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": op, "path": "title", "value": op}]}))
    show("REMOVE", scim.patch(f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "REMOVE", "path": "title"}]}))
    show("remove nopath", scim.patch(f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove"}]}))
    show("move", scim.patch(f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "move", "path": "title", "from": "nickName"}]}))
    show("badjson", scim.patch(f"/Users/{uid}", '{"schemas": ['))
    show("badjson post", scim.post(f"/Users", '{"schemas": ['))
    r = scim.get(f"/Users/{uid}")
    show("ifmatch stale", scim.patch(f"/Users/{uid}", load("entra/disable_string"), HTTP_IF_MATCH=etag))
    show("ifmatch ok", scim.patch(f"/Users/{uid}", load("entra/disable_string"), HTTP_IF_MATCH=r["ETag"]))
    show("json ct", scim.patch(f"/Users/{uid}", load("entra/enable_string"), content_type="application/json"))
    show("dup", scim.post("/Users", {**load("entra/create_user"), "userName": load("entra/create_user")["userName"].upper(), "externalId": "other"}))
    show("dup ext", scim.post("/Users", {**load("entra/create_user"), "userName": "other"}))
    show("del", scim.delete(f"/Users/{uid}"))
    show("get", scim.get(f"/Users/{uid}"))
    show("del", scim.delete(f"/Users/{uid}"))
    show("get bogus", scim.get(f"/Users/00919288221112222"))
