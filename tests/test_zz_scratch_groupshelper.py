from tests.test_scim_groups import people, new_group, load, sid
def test_x(scim, people):
    group_id = new_group(scim, "Before")
    r0 = scim.get(f"/Groups/{group_id}")
    stale = r0["ETag"]
    print(r0.json()["meta"])
    r = scim.patch(f"/Groups/{group_id}", load("entra/group-add-members", USER_1=sid(people[0]), USER_2=sid(people[1])))
    print(r.status_code, r["ETag"])
    print(scim.get(f"/Groups/{group_id}").json()["meta"])
    r = scim.patch(f"/Groups/{group_id}", load("okta/group-rename", GROUP=group_id), HTTP_IF_MATCH=stale)
    print(r.status_code, r.content)
