from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0011_audit_log"),
    ]

    operations = []
