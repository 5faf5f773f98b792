from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0008_import_warnings"),
    ]

    operations = []
