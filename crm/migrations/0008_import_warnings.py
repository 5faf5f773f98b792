from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0007_import_job_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="warned",
            field=models.PositiveIntegerField(default=0, verbose_name="imported with warnings"),
        ),
        migrations.AddField(
            model_name="rejectedrow",
            name="imported",
            field=models.BooleanField(default=False, verbose_name="imported with warnings"),
        ),
    ]
