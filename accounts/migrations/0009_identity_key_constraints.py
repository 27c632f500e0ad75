from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0008_identity_keys_backfill'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='user',
            index=models.Index(fields=['organisation', 'email_key'], name='accounts_user_org_email_key'),
        ),
        migrations.AddIndex(
            model_name='user',
            index=models.Index(fields=['organisation', 'idp_location_key'], name='accounts_user_org_idp_location'),
        ),
        migrations.AddConstraint(
            model_name='group',
            constraint=models.UniqueConstraint(fields=('organisation', 'display_name_key'), name='accounts_group_displayname_key_unique'),
        ),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(fields=('organisation', 'user_name_key'), name='accounts_user_username_key_unique'),
        ),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(condition=models.Q(('organisation', None)), fields=('user_name_key',), name='accounts_user_staff_username_key_unique'),
        ),
    ]
