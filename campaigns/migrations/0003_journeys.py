"""Journeys (campaigns.services.journeys): the journey, its published versions, the enrollments (due
work) and the log of the steps each enrollment passed."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_message_event_kinds"),
        ("crm", "0014_segments"),
    ]

    operations = [
        migrations.CreateModel(
            name="Journey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=160, verbose_name="name")),
                ("description", models.TextField(blank=True, verbose_name="description")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("draft", "Draft"),
                            ("live", "Live"),
                            ("paused", "Paused"),
                            ("archived", "Archived"),
                        ],
                        default="draft",
                        max_length=12,
                        verbose_name="status",
                    ),
                ),
                ("draft_graph", models.JSONField(blank=True, default=dict, verbose_name="graph (draft)")),
                (
                    "reentry",
                    models.CharField(
                        choices=[("never", "Never"), ("after_days", "After some days")],
                        default="never",
                        max_length=12,
                        verbose_name="re-entry",
                    ),
                ),
                (
                    "reentry_days",
                    models.PositiveSmallIntegerField(
                        default=0,
                        validators=[django.core.validators.MaxValueValidator(3650)],
                        verbose_name="re-entry after (days)",
                    ),
                ),
                (
                    "holdout_percent",
                    models.PositiveSmallIntegerField(
                        default=0,
                        validators=[django.core.validators.MaxValueValidator(50)],
                        verbose_name="holdout (%)",
                    ),
                ),
                ("goal_event", models.CharField(blank=True, max_length=40, verbose_name="goal event")),
                ("preset", models.CharField(blank=True, max_length=40, verbose_name="ready-made journey")),
                ("webhook_secret", models.CharField(blank=True, editable=False, max_length=64)),
                ("dates_checked_on", models.DateField(blank=True, editable=False, null=True)),
                ("created_by", models.CharField(blank=True, max_length=254, verbose_name="created by")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
            ],
            options={
                "verbose_name": "journey",
                "verbose_name_plural": "journeys",
                "ordering": ["-created_at"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("holdout_percent__lte", 50)), name="journey_holdout_at_most_half"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="JourneyVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField(verbose_name="version")),
                ("graph", models.JSONField(verbose_name="graph")),
                ("published_at", models.DateTimeField(verbose_name="published at")),
                ("published_by", models.CharField(blank=True, max_length=254, verbose_name="published by")),
                (
                    "journey",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="versions",
                        to="campaigns.journey",
                    ),
                ),
            ],
            options={
                "verbose_name": "journey version",
                "verbose_name_plural": "journey versions",
                "ordering": ["journey", "-number"],
            },
        ),
        migrations.CreateModel(
            name="Enrollment",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("step", models.CharField(max_length=40, verbose_name="current step")),
                ("step_at", models.DateTimeField(verbose_name="at this step since")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("active", "In the journey"),
                            ("completed", "Completed"),
                            ("converted", "Converted"),
                            ("exited", "Exited"),
                            ("failed", "Stopped after errors"),
                        ],
                        default="active",
                        max_length=12,
                        verbose_name="status",
                    ),
                ),
                ("due_at", models.DateTimeField(blank=True, null=True, verbose_name="due at")),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="attempts")),
                ("waiting_for", models.CharField(blank=True, max_length=40, verbose_name="waiting for")),
                ("deadline_at", models.DateTimeField(blank=True, null=True, verbose_name="deadline")),
                ("holdout", models.BooleanField(default=False, verbose_name="held out")),
                ("entry_key", models.CharField(max_length=120)),
                ("context", models.JSONField(blank=True, default=dict)),
                ("entered_at", models.DateTimeField(verbose_name="entered at")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished at")),
                (
                    "affiliate",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.affiliate",
                    ),
                ),
                (
                    "journey",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="enrollments",
                        to="campaigns.journey",
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrollments",
                        to="campaigns.journeyversion",
                    ),
                ),
            ],
            options={
                "verbose_name": "enrollment",
                "verbose_name_plural": "enrollments",
                "ordering": ["-entered_at"],
            },
        ),
        migrations.CreateModel(
            name="JourneyStepLog",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("step", models.CharField(max_length=40, verbose_name="step")),
                ("at", models.DateTimeField(verbose_name="when")),
                ("outcome", models.CharField(max_length=40, verbose_name="outcome")),
                ("reason", models.CharField(blank=True, max_length=200, verbose_name="reason")),
                (
                    "enrollment",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="log",
                        to="campaigns.enrollment",
                    ),
                ),
            ],
            options={
                "verbose_name": "journey step",
                "verbose_name_plural": "journey steps",
                "ordering": ["enrollment", "at", "id"],
                "indexes": [models.Index(fields=["enrollment", "at"], name="journeysteplog_enrollment")],
            },
        ),
        migrations.AddConstraint(
            model_name="journeyversion",
            constraint=models.UniqueConstraint(
                fields=("journey", "number"), name="journeyversion_number_once"
            ),
        ),
        migrations.AddIndex(
            model_name="enrollment",
            index=models.Index(
                condition=models.Q(("status", "active")), fields=["due_at"], name="enrollment_due"
            ),
        ),
        migrations.AddIndex(
            model_name="enrollment",
            index=models.Index(fields=["affiliate", "journey"], name="enrollment_affiliate"),
        ),
        migrations.AddIndex(
            model_name="enrollment",
            index=models.Index(
                condition=models.Q(("status", "active"), models.Q(("waiting_for", ""), _negated=True)),
                fields=["waiting_for", "affiliate"],
                name="enrollment_waiting",
            ),
        ),
        migrations.AddIndex(
            model_name="enrollment",
            index=models.Index(fields=["journey", "version", "status", "step"], name="enrollment_counts"),
        ),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "active")),
                fields=("journey", "affiliate"),
                name="enrollment_one_active",
            ),
        ),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.UniqueConstraint(
                fields=("journey", "affiliate", "entry_key"), name="enrollment_entry_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "active"), _negated=True), ("due_at__isnull", False), _connector="OR"
                ),
                name="enrollment_active_is_due",
            ),
        ),
    ]
