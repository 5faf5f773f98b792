from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_affiliate_updated_at_unindexed"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="attempt",
            field=models.PositiveIntegerField(default=0, verbose_name="attempt"),
        ),
        migrations.AlterField(
            model_name="importjob",
            name="status",
            field=models.CharField(
                choices=[
                    ("uploaded", "Uploaded"),
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="uploaded",
                max_length=16,
                verbose_name="status",
            ),
        ),
    ]
