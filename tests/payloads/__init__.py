"""Captured Entra ID and Okta request bodies, kept as JSON files beside this module.

`load("entra/create_user")` returns a fresh dict each time. Placeholders written as
`{{NAME}}` inside JSON strings are replaced by keyword arguments, for values only
known at run time (the SCIM id of a user, for instance).
"""

import json
from pathlib import Path

HERE = Path(__file__).parent


def load(name: str, **placeholders: str) -> dict:
    text = (HERE / f"{name}.json").read_text(encoding="utf-8")
    for key, value in placeholders.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise KeyError(f"{name}.json still has a placeholder: {text[text.index('{{') :][:40]}")
    return json.loads(text)
