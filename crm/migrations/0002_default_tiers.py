from decimal import Decimal

from django.db import migrations

DEFAULT_TIERS = [("Bronze", Decimal("0.01"), "#b08d57"), ("Prata", Decimal("500.00"), "#9aa5b1"), ("Ouro", Decimal("2000.00"), "#d4a017")]


def seed(apps, schema_editor):
    from django_tenants.utils import get_public_schema_name

    # migrate_schemas --shared walks tenant apps' migrations too; their tables live in UDN schemas only.
    if schema_editor.connection.schema_name == get_public_schema_name():
        return
    DepositTier = apps.get_model("crm", "DepositTier")
    for name, min_total, color in DEFAULT_TIERS:
        DepositTier.objects.get_or_create(name=name, defaults={"min_total": min_total, "color": color})


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
