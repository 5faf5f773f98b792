"""Placeholder: loyalty changes (issue 15)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations: list[migrations.operations.base.Operation] = []
