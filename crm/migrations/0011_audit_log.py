import django.contrib.postgres.indexes
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0010_collation_and_quality"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="when")),
                (
                    "actor_kind",
                    models.CharField(
                        choices=[
                            ("user", "Person"),
                            ("api_key", "API key"),
                            ("system", "System"),
                            ("import", "Import"),
                        ],
                        max_length=16,
                        verbose_name="actor kind",
                    ),
                ),
                ("actor_id", models.CharField(blank=True, max_length=64, verbose_name="actor id")),
                ("actor_label", models.CharField(blank=True, max_length=254, verbose_name="who")),
                ("action", models.CharField(max_length=60, verbose_name="action")),
                ("target_type", models.CharField(blank=True, max_length=40, verbose_name="target type")),
                ("target_id", models.CharField(blank=True, max_length=64, verbose_name="target id")),
                ("changes", models.JSONField(blank=True, default=dict, verbose_name="details")),
                ("ip", models.GenericIPAddressField(blank=True, null=True, verbose_name="IP address")),
            ],
            options={
                "verbose_name": "audit entry",
                "verbose_name_plural": "audit entries",
                "ordering": ["-at", "-id"],
                "indexes": [
                    models.Index(fields=["target_type", "target_id", "-at"], name="audit_target_time"),
                    models.Index(fields=["action", "-at"], name="audit_action_time"),
                    models.Index(fields=["actor_label", "-at"], name="audit_actor_time"),
                    django.contrib.postgres.indexes.BrinIndex(fields=["at"], name="audit_at_brin"),
                ],
            },
        ),
        migrations.AddField(
            model_name="consentchange",
            name="audit_entry",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="consent_changes",
                to="crm.auditentry",
                verbose_name="audit entry",
            ),
        ),
    ]
