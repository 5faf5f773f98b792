from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0009_webhook_rotation"),
    ]

    operations = []
