"""Journey webhook steps through due work (issue 12): each call is a row the journeys' webhook
task sends outside the step's transaction, retried with backoff."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_loyalty_message_source")]

    operations = [
        migrations.CreateModel(
            name="JourneyWebhookCall",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("step", models.CharField(max_length=40, verbose_name="step")),
                ("url", models.CharField(max_length=2000, verbose_name="URL")),
                ("payload", models.JSONField(verbose_name="payload")),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")],
                        default="pending",
                        max_length=12,
                        verbose_name="status",
                    ),
                ),
                ("due_at", models.DateTimeField(blank=True, null=True, verbose_name="due at")),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="attempts")),
                (
                    "last_status_code",
                    models.PositiveSmallIntegerField(blank=True, null=True, verbose_name="last HTTP status"),
                ),
                ("last_error", models.CharField(blank=True, max_length=500, verbose_name="last error")),
                ("created_at", models.DateTimeField(verbose_name="created at")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished at")),
                (
                    "enrollment",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhook_calls",
                        to="campaigns.enrollment",
                    ),
                ),
            ],
            options={
                "verbose_name": "journey webhook call",
                "verbose_name_plural": "journey webhook calls",
                "ordering": ["id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status", "pending")),
                        fields=["due_at"],
                        name="journeywebhookcall_due",
                    ),
                    models.Index(fields=["enrollment"], name="journeywebhookcall_enrollment"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "pending"), _negated=True),
                            ("due_at__isnull", False),
                            _connector="OR",
                        ),
                        name="journeywebhookcall_pending_is_due",
                    )
                ],
            },
        ),
    ]
