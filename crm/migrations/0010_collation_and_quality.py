from django.db import migrations, models

import crm.models


class Migration(migrations.Migration):
    """Names sort the Brazilian way (accents and case beside their plain letters: crm.models.Folded)
    and the list's default order reads an index. Not an ICU collation: the embedded PostgreSQL is
    built without ICU, and this expression needs nothing from outside pg_catalog (so it clones
    with the UDN template schema as it is)."""

    dependencies = [
        ("crm", "0009_webhook_rotation"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="affiliate",
            index=models.Index(
                crm.models.Folded("name"),
                models.F("name"),
                models.F("id"),
                name="affiliate_name_sort_idx",
            ),
        ),
    ]
