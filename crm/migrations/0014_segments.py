"""Segments (crm.segmentation) and the kept membership of tracked ones; the events' type/time
index covering the affiliate and the amount (index-only counts and sums); the timeline's
segment_entered / segment_left kinds in every UDN schema (kinds a UDN already has are kept)."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models

# crm.services.segments.SEGMENT_EVENT_TYPES names the same codes; a migration keeps its own copy.
KINDS = [
    ("segment_entered", "Entrou no segmento", "O afiliado passou a atender às condições de um segmento."),
    ("segment_left", "Saiu do segmento", "O afiliado deixou de atender às condições de um segmento."),
]


def kinds_add(apps, schema_editor):
    EventKind = apps.get_model("crm", "EventKind")
    for code, label, description in KINDS:
        EventKind.objects.get_or_create(code=code, defaults={"label": label, "description": description})


def kinds_remove(apps, schema_editor):
    EventKind = apps.get_model("crm", "EventKind")
    EventKind.objects.filter(code__in=[code for code, _label, _description in KINDS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_messaging_scopes_and_webhook_events"),
    ]

    operations = [
        migrations.CreateModel(
            name="Segment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120, verbose_name="name")),
                ("description", models.TextField(blank=True, verbose_name="description")),
                ("definition", models.JSONField(verbose_name="conditions")),
                (
                    "tracked",
                    models.BooleanField(
                        default=False,
                        help_text="Keep the members up to date (journeys listen to who enters and leaves).",
                        verbose_name="membership kept",
                    ),
                ),
                (
                    "event_types",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=40), blank=True, default=list, size=None
                    ),
                ),
                (
                    "fields",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=60), blank=True, default=list, size=None
                    ),
                ),
                (
                    "segment_refs",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(), blank=True, default=list, size=None
                    ),
                ),
                ("member_count", models.PositiveIntegerField(blank=True, null=True, verbose_name="members")),
                ("counted_at", models.DateTimeField(blank=True, null=True, verbose_name="counted at")),
                (
                    "refreshed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="membership refreshed at"),
                ),
                ("created_by", models.CharField(blank=True, max_length=254, verbose_name="created by")),
                ("updated_by", models.CharField(blank=True, max_length=254, verbose_name="changed by")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
            ],
            options={
                "verbose_name": "segment",
                "verbose_name_plural": "segments",
                "ordering": ["name", "id"],
                "constraints": [models.UniqueConstraint(fields=("name",), name="segment_name_unique")],
            },
        ),
        migrations.CreateModel(
            name="SegmentMembership",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("entered_at", models.DateTimeField(verbose_name="entered at")),
                (
                    "affiliate",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="segment_memberships",
                        to="crm.affiliate",
                    ),
                ),
                (
                    "segment",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="crm.segment",
                    ),
                ),
            ],
            options={
                "verbose_name": "segment membership",
                "verbose_name_plural": "segment memberships",
                "constraints": [
                    models.UniqueConstraint(fields=("segment", "affiliate"), name="segment_membership_unique")
                ],
            },
        ),
        # Segments' event conditions (crm.segmentation) count and sum a type's events in a window:
        # with the affiliate and the amount in the index those are index-only scans.
        migrations.RemoveIndex(model_name="event", name="event_type_time"),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                fields=["type", "occurred_at"], include=("affiliate", "amount"), name="event_type_time"
            ),
        ),
        migrations.RunPython(kinds_add, kinds_remove),
    ]
