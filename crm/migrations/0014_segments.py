from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_messaging_scopes_and_webhook_events"),
    ]

    operations = []
