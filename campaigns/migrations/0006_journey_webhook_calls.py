"""Placeholder: journey webhook steps through due work (issue 12)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_loyalty_message_source")]

    operations: list[migrations.operations.base.Operation] = []
