"""The customer setup guide (docs/klaxon-scim-setup-guide.md) and the Synchronisation page agree."""

from pathlib import Path

GUIDE = (Path(__file__).resolve().parent.parent / "docs" / "klaxon-scim-setup-guide.md").read_text()


def synchronisation_page(client, acme) -> str:
    client.force_login(acme.admin)
    return client.get("/configuration/synchronisation/").content.decode()


def test_the_page_says_what_to_do_when_the_token_is_no_longer_shown(client, acme):
    page = synchronisation_page(client, acme)

    assert "If you no longer have it" in page and "rotate the token" in page
    assert "If you no longer have it" in GUIDE and "rotate the token" in GUIDE


def test_the_page_and_the_guide_use_entras_current_labels(client, acme):
    page = synchronisation_page(client, acme)

    for label in (
        "Create your own application",
        "Provision Microsoft Entra ID Users",
        "Tenant URL",
        "Secret Token",
        "Test Connection",
        "Notification Email",
    ):
        assert label in page, label
        assert label in GUIDE, label
    assert "Azure Active Directory Users" not in page + GUIDE


def test_the_page_and_the_guide_say_the_custom_attributes_are_optional(client, acme):
    page = synchronisation_page(client, acme)

    assert "(optional)" in page and "nothing more to set up" in GUIDE
    assert "mobile number" in page and "work city" in page
