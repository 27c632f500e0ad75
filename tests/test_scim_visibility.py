"""What the identity provider may read: what it wrote, never what was set in Klaxon.

Finding 9 of the trust-boundary review: a number a person typed into their own profile was
readable over SCIM. The rule (docs/security.md): a SCIM document carries the attributes the
provider wrote; for a person it never wrote, only what identifies them (userName, name,
displayName, e-mail, active), so it can match and adopt them.
"""

from accounts import actions
from locations.actions import create_location
from tests.scim import KLAXON, new_user


def test_a_number_and_location_a_person_chose_themselves_are_not_readable_over_scim(scim, acme):
    leeds = acme.organisation.locations.get(name="Leeds")
    actions.update_own_profile(acme.user, location=leeds, notification_phone="+447400100123")

    document = scim.get(f"/Users/{acme.user.scim_id}").json()

    assert KLAXON not in document and KLAXON not in document["schemas"]
    assert "+447400100123" not in str(document)
    assert document["userName"] == acme.user.user_name
    assert document["name"] == {"givenName": "Jo", "familyName": "User"}
    assert document["emails"][0]["value"] == acme.user.email


def test_the_provider_reads_back_its_own_values_not_the_ones_set_in_klaxon(scim, acme):
    sent = {"location": "London", "notificationPhoneNumber": "07400 100456"}
    created = scim.post("/Users", new_user("sam@acme.test", **{KLAXON: sent})).json()
    person = acme.organisation.users.get(scim_id=created["id"])
    manchester, _ = create_location(acme.organisation, "Manchester")
    actions.update_own_profile(person, location=manchester, notification_phone="+447400100999")

    document = scim.get(f"/Users/{person.scim_id}").json()

    assert document[KLAXON] == sent
    assert "+447400100999" not in str(document)
