import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):
    """Webhook secret rotation (the old secret signs too until it expires), who redelivered a
    delivery by hand, and a BRIN index for the delivery log's retention purge."""

    dependencies = [
        ("crm", "0008_import_warnings"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="redelivered_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="redelivered at"),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="redelivered_by",
            field=models.CharField(blank=True, max_length=254, verbose_name="redelivered by"),
        ),
        migrations.AddField(
            model_name="webhooksubscription",
            name="previous_secret",
            field=models.CharField(blank=True, max_length=100, verbose_name="previous signing secret"),
        ),
        migrations.AddField(
            model_name="webhooksubscription",
            name="previous_secret_expires_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="previous secret valid until"),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=django.contrib.postgres.indexes.BrinIndex(
                fields=["created_at"], name="webhook_delivery_created"
            ),
        ),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("previous_secret", ""), ("previous_secret_expires_at__isnull", True)),
                    models.Q(
                        models.Q(("previous_secret", ""), _negated=True),
                        ("previous_secret_expires_at__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="webhook_previous_secret_expires",
            ),
        ),
    ]
