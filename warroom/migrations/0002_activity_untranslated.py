"""Placeholder: activity entries stored as codes, translated on display (issue 13)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("warroom", "0001_initial")]

    operations: list[migrations.operations.base.Operation] = []
