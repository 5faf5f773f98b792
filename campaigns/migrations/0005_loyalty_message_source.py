"""Placeholder: a loyalty message source (issue 15)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_message_claim_index")]

    operations: list[migrations.operations.base.Operation] = []
