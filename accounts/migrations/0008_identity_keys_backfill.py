"""Identity keys of existing rows, computed in Python (accounts/identity.py).

A migration of its own: PostgreSQL cannot build the new indexes in the transaction that
updated the rows ("pending trigger events"), so 0009 adds them afterwards.
"""

from django.db import migrations

from accounts.identity import identity_key

BATCH = 2000


def backfill(model, source, key, scope, *, unique, extra=None):
    """Compute `key` from `source` for every row; a second row of one scope with the same key
    (a look-alike) keeps NULL and is reported, never merged."""
    def run(apps, schema_editor):
        Model = apps.get_model(*model.split("."))
        seen, changed, lookalikes = set(), [], []
        fields = [key] + (list(extra(None)) if extra else [])
        for row in Model.objects.order_by("pk").iterator(chunk_size=BATCH):
            value = identity_key(getattr(row, source))
            if unique:
                marker = (getattr(row, scope), value)
                if marker in seen:
                    lookalikes.append((row.pk, getattr(row, source)))
                    value = None
                seen.add(marker)
            setattr(row, key, value)
            if extra:
                for name, computed in extra(row).items():
                    setattr(row, name, computed)
            changed.append(row)
            if len(changed) >= BATCH:
                Model.objects.bulk_update(changed, fields)
                changed = []
        if changed:
            Model.objects.bulk_update(changed, fields)
        for pk, name in lookalikes:
            print(f"\n  {model} {pk}: {name!r} looks like another one; it keeps no identity key until "
                  "an administrator renames or removes it (manage.py report_lookalikes).")
    return run


def recovery_email(row):
    """People who already hold a password keep resets where they went: the address they have."""
    if row is None:
        return ["recovery_email"]
    usable = bool(row.password) and not row.password.startswith("!")
    return {"recovery_email": row.email if usable else ""}


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_identity_keys'),
    ]

    operations = [
        migrations.RunPython(backfill("accounts.User", "user_name", "user_name_key", "organisation_id", unique=True,
                                      extra=recovery_email), migrations.RunPython.noop),
        migrations.RunPython(backfill("accounts.User", "email", "email_key", "organisation_id", unique=False),
                             migrations.RunPython.noop),
        migrations.RunPython(backfill("accounts.User", "idp_location", "idp_location_key", "organisation_id",
                                      unique=False), migrations.RunPython.noop),
        migrations.RunPython(backfill("accounts.Group", "display_name", "display_name_key", "organisation_id",
                                      unique=True), migrations.RunPython.noop),
    ]
