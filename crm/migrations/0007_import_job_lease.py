from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_affiliate_updated_at_unindexed"),
    ]

    operations = []
