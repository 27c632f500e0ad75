from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('locations', '0002_identity_keys'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='location',
            constraint=models.UniqueConstraint(fields=('organisation', 'name_key'), name='locations_location_name_key_unique'),
        ),
    ]
