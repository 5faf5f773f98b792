"""Placeholder: journeys:read/journeys:write and spend:write API scopes (issues 12, 14)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("crm", "0015_loyalty_scopes_and_webhook_event")]

    operations: list[migrations.operations.base.Operation] = []
