"""Loyalty's messages (expiry warnings, ranking and mission alerts) get a source of their own (issue 15)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_message_claim_index")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AlterField(
            model_name="message",
            name="source",
            field=models.CharField(
                choices=[
                    ("campaign", "Campaign"),
                    ("api", "Partner API"),
                    ("journey", "Journey"),
                    ("test", "Test send"),
                    ("loyalty", "Loyalty programme"),
                ],
                max_length=12,
                verbose_name="source",
            ),
        ),
    ]
