from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0010_collation_and_quality"),
    ]

    operations = []
