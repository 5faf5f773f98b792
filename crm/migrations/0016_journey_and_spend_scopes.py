"""Journeys and insights (issues 12, 14): API keys may carry journeys:read and journeys:write (the
enrollment endpoints campaigns mounts under /api/v1/journeys/) and spend:write (insights'
POST /api/v1/spend/), instead of borrowing affiliates:read and events:write. The choices and the
check constraint change; keys made earlier keep what they could do (a key with events:write gains
journeys:write and spend:write, one with affiliates:read gains journeys:read), so no partner's
integration breaks on deploy."""

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
    "journeys:read",
    "journeys:write",
    "spend:write",
]

# The scopes the journeys and spend endpoints asked for before they had their own.
GRANTED_BY = {
    "journeys:write": "events:write",
    "spend:write": "events:write",
    "journeys:read": "affiliates:read",
}


def keys_keep_their_access(apps, schema_editor):
    table = apps.get_model("crm", "ApiKey")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        for scope, granted_by in GRANTED_BY.items():
            cursor.execute(
                f"UPDATE {table} SET scopes = array_append(scopes, %s)"  # noqa: S608 - the model's table
                " WHERE %s = ANY(scopes) AND NOT (%s = ANY(scopes))",
                [scope, granted_by, scope],
            )


def keys_lose_the_new_scopes(apps, schema_editor):
    table = apps.get_model("crm", "ApiKey")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        for scope in GRANTED_BY:
            cursor.execute(f"UPDATE {table} SET scopes = array_remove(scopes, %s)", [scope])  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [("crm", "0015_loyalty_scopes_and_webhook_event")]

    operations = [
        migrations.RemoveConstraint(model_name="apikey", name="apikey_scopes_known"),
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
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.CheckConstraint(
                condition=models.Q(("scopes__contained_by", SCOPES)), name="apikey_scopes_known"
            ),
        ),
        migrations.RunPython(keys_keep_their_access, keys_lose_the_new_scopes),
    ]
