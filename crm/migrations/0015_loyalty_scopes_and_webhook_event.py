"""Loyalty (issue 15): API keys may carry loyalty:read and loyalty:write (the endpoints the
loyalty app mounts under /api/v1/loyalty/), and webhooks may subscribe to loyalty.redeemed. Only
the choices and the two check constraints change."""

import django.contrib.postgres.fields
from django.db import migrations, models

SCOPES = [
    "affiliates:read",
    "affiliates:write",
    "events:write",
    "segments:read",
    "campaigns:read",
    "webhooks:manage",
    "messages:read",
    "messages:write",
    "loyalty:read",
    "loyalty:write",
]
EVENTS = [
    "affiliate.stage_changed",
    "event.received",
    "message.failed",
    "message.delivered",
    "consent.revoked",
    "loyalty.redeemed",
]


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0014_segments"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="apikey", name="apikey_scopes_known"),
        migrations.RemoveConstraint(model_name="webhooksubscription", name="webhook_events_known"),
        migrations.AlterField(
            model_name="apikey",
            name="scopes",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(choices=[(scope, scope) for scope in SCOPES], max_length=40),
                default=list,
                size=None,
                verbose_name="scopes",
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
            field=models.CharField(
                choices=[(event, event) for event in EVENTS], max_length=40, verbose_name="event"
            ),
        ),
        migrations.AlterField(
            model_name="webhooksubscription",
            name="events",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(choices=[(event, event) for event in EVENTS], max_length=40),
                size=None,
                verbose_name="events",
            ),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.CheckConstraint(
                condition=models.Q(("scopes__contained_by", SCOPES)), name="apikey_scopes_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.CheckConstraint(
                condition=models.Q(("events__contained_by", EVENTS), models.Q(("events", []), _negated=True)),
                name="webhook_events_known",
            ),
        ),
    ]
