"""SCIM filtering, sorting, paging and projection of /Users (RFC 7644 §3.4.2, §3.4.3).

Identity providers match people with filters: a filter that is ignored or widened makes
them link the wrong account (idp-behaviour.md B.8, F.42), so every case names exactly
who must come back.
"""

import time
from urllib.parse import quote, urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actions import create_manual_user
from accounts.models import User
from scim_sync.schema import CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, KLAXON_USER_SCHEMA

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

# The fixture's people, created by hand in Klaxon (conftest.make_tenant).
ADMIN, JO = "admin@acme.test", "jo@acme.test"
BJENSEN, JSMITH, ASMITH = "bjensen@contoso.com", "jsmith@contoso.com", "asmith@contoso.com"
EVERYONE = {ADMIN, JO, BJENSEN, JSMITH, ASMITH}


def person(user_name: str, given: str, family: str, **extra) -> dict:
    """A user as Entra ID posts one (schemas list the core and enterprise URNs only)."""
    return {
        "schemas": [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "active": True,
        **extra,
    }


@pytest.fixture
def people(scim) -> dict[str, dict]:
    """Three people from Entra ID beside the two created by hand; by userName."""
    bodies = [
        person(
            BJENSEN,
            "Barbara",
            "Jensen",
            externalId="bjensen",
            displayName="Babs Jensen",
            emails=[{"value": "bjensen@contoso.com", "type": "work", "primary": True}],
            **{
                ENTERPRISE_USER_SCHEMA: {"department": "Operations", "employeeNumber": "701984"},
                KLAXON_USER_SCHEMA: {"location": "London", "notificationPhoneNumber": "07400 123456"},
            },
        ),
        person(
            JSMITH,
            "John",
            "Smith",
            externalId="JSmith",
            displayName="John Smith",
            emails=[{"value": "john.smith@fabrikam.com", "type": "work", "primary": True}],
            **{
                ENTERPRISE_USER_SCHEMA: {"department": "Sales"},
                KLAXON_USER_SCHEMA: {"location": "Leeds"},
            },
        ),
        person(ASMITH, "Alice", "Smith", externalId="asmith", title="Engineer", active=False),
    ]
    created = {}
    for body in bodies:
        response = scim.post("/Users", body)
        assert response.status_code == 201, response.content
        created[body["userName"]] = response.json()
    return created


def listing(scim, **params):
    response = scim.get("/Users?" + urlencode(params, quote_via=quote))
    assert response.status_code == 200, response.content
    return response.json()


def found(scim, scim_filter: str) -> set[str]:
    body = listing(scim, filter=scim_filter, count=200)
    assert body["totalResults"] == body["itemsPerPage"] == len(body["Resources"])
    return {resource["userName"] for resource in body["Resources"]}


def assert_invalid_filter(response) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body.pop("detail")
    assert body == {"schemas": [ERROR_SCHEMA], "status": "400", "scimType": "invalidFilter"}


# Operators, logic and attributes ------------------------------------------------------


@pytest.mark.parametrize(
    "scim_filter, expected",
    [
        # eq and the case rules of the schema: userName is caseExact false (RFC 7643 §4.1.1).
        ('userName eq "bjensen@contoso.com"', {BJENSEN}),
        ('userName eq "BJensen@Contoso.COM"', {BJENSEN}),
        ('UserName Eq "BJENSEN@CONTOSO.COM"', {BJENSEN}),
        ('USERNAME EQ "bjensen@contoso.com"', {BJENSEN}),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@contoso.com"', {BJENSEN}),
        ('userName eq "nobody@contoso.com"', set()),
        # externalId is caseExact true.
        ('externalId eq "JSmith"', {JSMITH}),
        ('externalId eq "jsmith"', set()),
        ('externalId eq "JSMITH"', set()),
        # Entra's documented example is unquoted (MS-TUT example 1).
        ("externalId eq bjensen", {BJENSEN}),
        ("externalId eq JSmith", {JSMITH}),
        # ne co sw ew pr.
        ('userName ne "bjensen@contoso.com"', EVERYONE - {BJENSEN}),
        ('userName co "SMITH"', {JSMITH, ASMITH}),
        ('userName sw "j"', {JO, JSMITH}),
        ('userName ew "@CONTOSO.com"', {BJENSEN, JSMITH, ASMITH}),
        ("externalId pr", {BJENSEN, JSMITH, ASMITH}),
        ("title pr", {ASMITH}),
        ("displayName pr", {BJENSEN, JSMITH}),
        ('displayName co "babs"', {BJENSEN}),
        # gt ge lt le on a caseExact false string compare without case (RFC 7644 §3.4.2.2).
        ('userName gt "b"', {BJENSEN, JO, JSMITH}),
        ('userName gt "B"', {BJENSEN, JO, JSMITH}),
        ('userName ge "JSMITH@contoso.com"', {JSMITH}),
        ('userName lt "b"', {ADMIN, ASMITH}),
        ('userName lt "B"', {ADMIN, ASMITH}),
        ('userName le "ADMIN@acme.test"', {ADMIN}),
        # and, or, not, parentheses, precedence (and binds tighter than or).
        ('name.givenName sw "bar" and name.familyName eq "Jensen"', {BJENSEN}),
        ('userName eq "asmith@contoso.com" or userName eq "jo@acme.test"', {ASMITH, JO}),
        ('not (userName co "contoso")', {ADMIN, JO}),
        ('(userName co "smith" or userName co "jensen") and active eq true', {BJENSEN, JSMITH}),
        ('userName co "smith" or userName co "jensen" and active eq false', {JSMITH, ASMITH}),
        ('userName co "smith" and not (active eq false)', {JSMITH}),
        ('userName eq "bjensen@contoso.com" AND externalId eq "bjensen"', {BJENSEN}),
        # Complex and sub-attributes, attribute names in any case (the MS-REF Postman collection).
        ('name.familyName eq "smith"', {JSMITH, ASMITH}),
        ('name.FamilyName eq "Jensen"', {BJENSEN}),
        ('NAME.GIVENNAME eq "alice"', {ASMITH}),
        ('emails[type eq "work"].value eq "john.smith@fabrikam.com"', {JSMITH}),
        ('emails[type eq "work"].value eq "JOHN.SMITH@fabrikam.com"', {JSMITH}),
        ('emails[type eq "work" and value co "fabrikam"]', {JSMITH}),
        ('emails.value eq "bjensen@contoso.com"', {BJENSEN}),
        ('emails.value ew "@acme.test"', {ADMIN, JO}),
        ('emails co "fabrikam"', {JSMITH}),
        # Extension attributes by their URN.
        ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales"', {JSMITH}),
        ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"', {BJENSEN}),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr", {BJENSEN, JSMITH}),
        ('urn:ietf:params:scim:schemas:extension:klaxon:2.0:User:location eq "leeds"', {JSMITH}),
        ('URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:KLAXON:2.0:USER:LOCATION eq "London"', {BJENSEN}),
        # active: disabled people stay findable (MS-TUT soft delete).
        ("active eq false", {ASMITH}),
        ("active eq true", EVERYONE - {ASMITH}),
        ("active ne true", {ASMITH}),
    ],
)
def test_filter_finds_exactly(scim, people, scim_filter, expected):
    assert found(scim, scim_filter) == expected


def test_filter_by_id(scim, people):
    bjensen_id = people[BJENSEN]["id"]

    assert found(scim, f'id eq "{bjensen_id}"') == {BJENSEN}
    assert found(scim, f'id ne "{bjensen_id}"') == EVERYONE - {BJENSEN}
    assert found(scim, 'id eq "not-a-uuid"') == set()


def test_filter_by_last_modified(scim, people):
    # Alice was written last: everything so far was modified at or before her.
    before = scim.get(f"/Users/{people[ASMITH]['id']}").json()["meta"]["lastModified"]
    time.sleep(0.01)
    scim.patch(
        f"/Users/{people[JSMITH]['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "title", "value": "Manager"}],
        },
    )

    assert found(scim, f'meta.lastModified gt "{before}"') == {JSMITH}
    assert found(scim, f'meta.LastModified le "{before}"') == EVERYONE - {JSMITH}
    assert found(scim, 'meta.created gt "2000-01-01T00:00:00Z"') == EVERYONE
    assert found(scim, 'meta.created lt "2000-01-01T00:00:00Z"') == set()


def test_filter_results_are_whole_documents(scim, people):
    body = listing(scim, filter='userName eq "BJENSEN@contoso.com"')

    assert body == {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": 1,
        "startIndex": 1,
        "itemsPerPage": 1,
        "Resources": [scim.get(f"/Users/{people[BJENSEN]['id']}").json()],
    }


@pytest.mark.parametrize(
    "scim_filter",
    [
        'foo eq "x"',
        'name.nickname eq "x"',
        'password eq "secret"',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter eq "x"',
        'urn:ietf:params:scim:schemas:extension:nobody:2.0:User:thing eq "x"',
        'userName eq "bjensen@contoso.com" or foo eq "x"',
        "userName eq",
        'userName eq "a" and',
        'userName xx "a"',
        'userName eq "unterminated',
        '(userName eq "a"',
        'emails[type eq "work"',
        'emails[type eq "home"].value eq "x"',
        'active eq "yes"',
        "active gt true",
        'meta.lastModified gt "yesterday"',
        "userName",
        'eq "bjensen@contoso.com"',
    ],
)
def test_an_unknown_attribute_or_bad_syntax_is_400_invalid_filter(scim, people, scim_filter):
    # Never a silently wider (or narrower) result (RFC 7644 §3.4.2.2).
    assert_invalid_filter(scim.get("/Users?filter=" + quote(scim_filter)))


def test_other_organisations_users_are_never_found(scim, scim_globex, people):
    assert found(scim_globex, f'userName eq "{BJENSEN}"') == set()
    assert found(scim_globex, f'id eq "{people[BJENSEN]["id"]}"') == set()
    assert found(scim_globex, 'userName co "acme"') == set()
    assert found(scim_globex, "userName pr") == {"admin@globex.test", "jo@globex.test"}
    assert found(scim, 'userName co "globex"') == set()


# Paging (RFC 7644 §3.4.2.4) ------------------------------------------------------------


def test_paging_through_eleven_users_five_at_a_time(scim, acme):
    # The Microsoft gallery validator's paging test (MS-REF overview).
    for i in range(11):
        response = scim.post("/Users", person(f"pager{i:02}@contoso.com", "Page", f"Number {i}"))
        assert response.status_code == 201
    total = 13  # with the two people created by hand

    pages = [listing(scim, startIndex=start, count=5) for start in (1, 6, 11)]

    assert [(p["totalResults"], p["startIndex"], p["itemsPerPage"], len(p["Resources"])) for p in pages] == [
        (total, 1, 5, 5),
        (total, 6, 5, 5),
        (total, 11, 3, 3),
    ]
    ids = [r["id"] for p in pages for r in p["Resources"]]
    assert len(ids) == len(set(ids)) == total
    assert set(ids) == {str(u.scim_id) for u in User.objects.filter(organisation=acme.organisation)}
    # The same order every time (Okta: "must consistently return the same ordering").
    again = [r["id"] for start in (1, 6, 11) for r in listing(scim, startIndex=start, count=5)["Resources"]]
    assert again == ids


def people_queries(queries) -> list[str]:
    return [q["sql"].upper() for q in queries.captured_queries if "ACCOUNTS_USER" in q["sql"].upper()]


def counts_in(queries) -> int:
    return sum("COUNT(" in sql for sql in people_queries(queries))


def test_a_look_up_that_fits_in_one_page_counts_nothing(scim, people):
    with CaptureQueriesContext(connection) as queries:
        hit = listing(scim, filter=f'userName eq "{BJENSEN}"')
    assert counts_in(queries) == 0 and hit["totalResults"] == 1
    with CaptureQueriesContext(connection) as queries:
        miss = listing(scim, filter='userName eq "nobody@contoso.com"')
    assert counts_in(queries) == 0 and (miss["totalResults"], miss["Resources"]) == (0, [])


def test_paging_counts_once_per_listing_and_the_first_page_counts_afresh(scim, people, acme):
    with CaptureQueriesContext(connection) as queries:
        first = listing(scim, startIndex=1, count=2)
    assert counts_in(queries) == 1 and first["totalResults"] == 5

    create_manual_user(acme.organisation, "late@contoso.com")
    with CaptureQueriesContext(connection) as queries:
        second = listing(scim, startIndex=3, count=2)
    # The listing's count answers for its later pages (for SNAPSHOT_SECONDS), uncounted.
    assert counts_in(queries) == 0 and second["totalResults"] == 5
    # A page that ends the list tells the total itself.
    assert listing(scim, startIndex=5, count=3)["totalResults"] == 6
    # Another listing (another filter) counts for itself; a new first page counts again.
    assert listing(scim, filter='userName co "@"', startIndex=3, count=1)["totalResults"] == 6
    assert listing(scim, startIndex=1, count=2)["totalResults"] == 6


def test_the_next_page_continues_where_the_last_one_ended_without_walking_rows(scim, people):
    everyone = [r["id"] for r in listing(scim, count=10)["Resources"]]
    first = listing(scim, startIndex=1, count=2)
    with CaptureQueriesContext(connection) as queries:
        second = listing(scim, startIndex=3, count=2)
    assert not any("OFFSET" in sql for sql in people_queries(queries))
    assert [r["id"] for r in first["Resources"] + second["Resources"]] == everyone[:4]
    # A page asked for before the one ahead of it was served (clients fetch pages in
    # parallel) starts from the nearest page served before it, and is the same page.
    listing(scim, filter='userName co "@"', startIndex=1, count=1)
    ahead = listing(scim, filter='userName co "@"', startIndex=4, count=1)
    assert [r["id"] for r in ahead["Resources"]] == everyone[3:4]
    # A page no served page comes before walks from the start, and is the same page.
    assert [r["id"] for r in listing(scim, startIndex=2, count=2)["Resources"]] == everyone[1:3]
    # Sorted lists always walk: bookmarks hold positions in key order only.
    by_name = listing(scim, sortBy="userName", count=10)["Resources"]
    assert [r["id"] for r in listing(scim, sortBy="userName", startIndex=3, count=2)["Resources"]] == [
        r["id"] for r in by_name[2:4]
    ]


def test_a_later_page_reads_its_total_with_its_bookmark_in_one_statement(scim, people):
    listing(scim, startIndex=1, count=2)
    with CaptureQueriesContext(connection) as queries:
        second = listing(scim, startIndex=3, count=2)
    statements = [q["sql"] for q in queries.captured_queries]
    # The token, the nearest bookmark with the listing's total, the page, this page's
    # bookmark, the activity log row: no COUNT and no cache read.
    assert len(statements) == 5 and second["totalResults"] == 5
    assert counts_in(queries) == 0 and not any("klaxon_cache" in sql for sql in statements)


@pytest.mark.parametrize("sort", [{}, {"sortBy": "userName"}])
def test_pages_deep_in_a_list_walk_keys_first_and_are_the_same_pages(scim, people, monkeypatch, sort):
    everyone = [r["id"] for r in listing(scim, count=10, **sort)["Resources"]]
    monkeypatch.setattr("klaxon_site.lib.paging.DIRECT_WALK", 0)  # every page past the first is "deep"
    with CaptureQueriesContext(connection) as queries:
        deep = listing(scim, filter='userName co "@"', startIndex=3, count=2, **sort)
    assert [r["id"] for r in deep["Resources"]] == everyone[2:4]
    assert any(sql.startswith('SELECT "ACCOUNTS_USER"."ID" AS "PK" FROM') for sql in people_queries(queries))


def test_another_organisations_listing_never_answers_with_this_ones_count(scim, people, scim_globex, globex):
    assert listing(scim, startIndex=1, count=1)["totalResults"] == 5
    theirs = User.objects.filter(organisation=globex.organisation).count()
    assert theirs != 5
    assert listing(scim_globex, startIndex=2, count=1)["totalResults"] == theirs


def test_paging_values_are_integers(scim, people):
    body = listing(scim, startIndex="2", count="2")

    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 2, 2)
    assert all(type(body[key]) is int for key in ("totalResults", "startIndex", "itemsPerPage"))


@pytest.mark.parametrize("start", [0, -5])
def test_a_start_index_below_one_is_read_as_one(scim, people, start):
    body = listing(scim, startIndex=start, count=2)

    assert body["startIndex"] == 1
    assert [r["id"] for r in body["Resources"]] == [r["id"] for r in listing(scim, count=2)["Resources"]]


@pytest.mark.parametrize("count", [0, -1, -100])
def test_a_count_of_zero_or_less_gives_only_the_total(scim, people, count):
    body = listing(scim, count=count)

    assert body["totalResults"] == 5
    assert body.get("Resources", []) == []
    assert body.get("itemsPerPage", 0) == 0


def test_a_start_index_past_the_end_gives_an_empty_page(scim, people):
    body = listing(scim, startIndex=50, count=10)

    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"], body["Resources"]) == (5, 50, 0, [])


def test_paging_applies_after_the_filter(scim, people):
    body = listing(scim, filter='userName ew "@contoso.com"', startIndex=2, count=1)

    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (3, 2, 1)


def test_a_count_above_the_maximum_is_clamped_to_the_advertised_one(scim, acme):
    config = scim.get("/ServiceProviderConfig").json()
    maximum = config["filter"]["maxResults"]
    User.objects.bulk_create(
        User(organisation=acme.organisation, user_name=f"bulk{i:04}@contoso.com") for i in range(maximum + 3)
    )

    body = listing(scim, count=maximum + 50)

    assert body["totalResults"] == maximum + 5
    assert body["itemsPerPage"] == len(body["Resources"]) == maximum


@pytest.mark.parametrize("params", [{"count": "ten"}, {"startIndex": "first"}, {"count": "1.5"}])
def test_paging_values_that_are_not_integers_are_400(scim, params):
    response = scim.get("/Users?" + urlencode(params))

    assert response.status_code == 400
    assert response.json()["schemas"] == [ERROR_SCHEMA]


# Sorting (RFC 7644 §3.4.2.3) -------------------------------------------------------------


def test_sort_by_user_name_ignores_case_both_ways(scim, people):
    # userName is caseExact false: "sort the result using case-insensitive ... order".
    scim.post("/Users", person("Carol@Contoso.com", "Carol", "Danvers"))
    ascending = [ADMIN, ASMITH, BJENSEN, "Carol@Contoso.com", JO, JSMITH]

    names = [r["userName"] for r in listing(scim, sortBy="userName")["Resources"]]
    assert names == ascending
    names = [r["userName"] for r in listing(scim, sortBy="userName", sortOrder="ascending")["Resources"]]
    assert names == ascending
    names = [r["userName"] for r in listing(scim, sortBy="UserName", sortOrder="descending")["Resources"]]
    assert names == ascending[::-1]


def test_sort_by_a_sub_attribute_then_page(scim, people):
    body = listing(scim, sortBy="name.familyName", sortOrder="descending", count=3)

    families = [r["name"]["familyName"] for r in body["Resources"]]
    assert families == ["User", "Smith", "Smith"]
    assert body["totalResults"] == 5


def test_sort_by_an_unknown_attribute_is_400(scim, people):
    response = scim.get("/Users?sortBy=shoeSize")

    assert response.status_code == 400
    assert response.json()["schemas"] == [ERROR_SCHEMA]


# attributes / excludedAttributes (RFC 7644 §3.4.2.5, §3.9) ----------------------------------


def test_attributes_returns_only_those_and_always_the_id(scim, people):
    body = listing(scim, filter=f'userName eq "{BJENSEN}"', attributes="userName,emails.value")

    assert body["Resources"] == [
        {
            "schemas": [CORE_USER_SCHEMA],
            "id": people[BJENSEN]["id"],
            "userName": BJENSEN,
            "emails": [{"value": "bjensen@contoso.com"}],
        }
    ]


def test_attributes_can_name_an_extension_attribute_by_urn(scim, people):
    body = listing(scim, filter=f'userName eq "{BJENSEN}"', attributes=f"{KLAXON_USER_SCHEMA}:location,name.familyName")

    assert body["Resources"] == [
        {
            "schemas": [CORE_USER_SCHEMA, KLAXON_USER_SCHEMA],
            "id": people[BJENSEN]["id"],
            "name": {"familyName": "Jensen"},
            KLAXON_USER_SCHEMA: {"location": "London"},
        }
    ]


def test_attributes_id_alone(scim, people):
    body = listing(scim, attributes="id", count=1)

    assert body["Resources"] == [{"schemas": [CORE_USER_SCHEMA], "id": body["Resources"][0]["id"]}]


def test_excluded_attributes_are_omitted_but_the_id_is_not(scim, people):
    full = scim.get(f"/Users/{people[BJENSEN]['id']}").json()
    excluded = f"emails,name.givenName,id,{ENTERPRISE_USER_SCHEMA}"

    body = listing(scim, filter=f'userName eq "{BJENSEN}"', excludedAttributes=excluded)

    expected = {k: v for k, v in full.items() if k not in ("emails", ENTERPRISE_USER_SCHEMA)}
    expected["name"] = {"familyName": "Jensen"}
    expected["schemas"] = [CORE_USER_SCHEMA, KLAXON_USER_SCHEMA]
    assert body["Resources"] == [expected]


def test_attributes_apply_to_get_by_id_too(scim, people):
    response = scim.get(f"/Users/{people[JSMITH]['id']}?attributes=userName,active")

    assert response.json() == {
        "schemas": [CORE_USER_SCHEMA],
        "id": people[JSMITH]["id"],
        "userName": JSMITH,
        "active": True,
    }


# POST /.search (RFC 7644 §3.4.3) ----------------------------------------------------------


def test_post_search_takes_the_query_in_the_body(scim, people):
    response = scim.post(
        "/Users/.search",
        {
            "schemas": [SEARCH_REQUEST_SCHEMA],
            "attributes": ["userName", "name.familyName"],
            "filter": 'name.familyName eq "SMITH"',
            "sortBy": "userName",
            "startIndex": 1,
            "count": 10,
        },
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": 2,
        "startIndex": 1,
        "itemsPerPage": 2,
        "Resources": [
            {
                "schemas": [CORE_USER_SCHEMA],
                "id": people[ASMITH]["id"],
                "userName": ASMITH,
                "name": {"familyName": "Smith"},
            },
            {
                "schemas": [CORE_USER_SCHEMA],
                "id": people[JSMITH]["id"],
                "userName": JSMITH,
                "name": {"familyName": "Smith"},
            },
        ],
    }


def test_post_search_with_a_bad_filter_is_400_invalid_filter(scim, people):
    assert_invalid_filter(scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST_SCHEMA], "filter": "foo eq 1"}))


def test_post_search_pages_like_get(scim, people):
    body = scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST_SCHEMA], "startIndex": 2, "count": 2}).json()

    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 2, 2)
    assert [r["id"] for r in body["Resources"]] == [r["id"] for r in listing(scim, startIndex=2, count=2)["Resources"]]


# Query counts: no N+1 --------------------------------------------------------------------


@pytest.mark.parametrize("params", ["", "filter=" + quote('userName co "@"'), "attributes=userName"])
def test_the_user_list_query_count_does_not_grow_with_the_page(scim, acme, django_assert_max_num_queries, params):
    scim.get("/Users")  # the first request records when the token was last used
    with django_assert_max_num_queries(6) as two:
        scim.get("/Users?" + params)
    queries_for_two = len(two.captured_queries)  # read now: each request resets the log
    assert listing(scim)["totalResults"] == 2

    # Eighteen more of every kind: from the provider (with locations), and by hand.
    for i in range(9):
        scim.post(
            "/Users",
            person(
                f"idp{i}@contoso.com",
                "Idp",
                "User",
                **{
                    KLAXON_USER_SCHEMA: {"location": "Leeds" if i % 2 else "London"},
                    ENTERPRISE_USER_SCHEMA: {"manager": {"value": str(acme.admin.scim_id)}},
                },
            ),
        )
        create_manual_user(acme.organisation, f"manual{i}@contoso.com", email=f"manual{i}@contoso.com")
    assert listing(scim)["totalResults"] == 20

    with django_assert_max_num_queries(queries_for_two):
        body = scim.get("/Users?" + params).json()
    assert body["itemsPerPage"] == 20


def test_case_is_ignored_for_every_letter_not_only_ascii(scim):
    """SQLite's own LOWER() folds ASCII only; Klaxon folds like PostgreSQL on both."""
    created = scim.post(
        "/Users", {"schemas": [CORE_USER_SCHEMA], "userName": "ÅSA.ÖBERG@contoso.com", "name": {"familyName": "Öberg"}}
    )
    assert created.status_code == 201

    for text in ('userName eq "åsa.öberg@contoso.com"', 'name.familyName eq "öBERG"', 'name.familyName gt "ó"'):
        found = scim.get("/Users?" + urlencode({"filter": text}, quote_via=quote)).json()
        assert [u["userName"] for u in found["Resources"]] == ["ÅSA.ÖBERG@contoso.com"], text
    clash = scim.post("/Users", {"schemas": [CORE_USER_SCHEMA], "userName": "åsa.öberg@contoso.com"})
    assert clash.status_code == 409 and clash.json()["scimType"] == "uniqueness"
