from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_message_event_kinds"),
        ("crm", "0014_segments"),
    ]

    operations = []
