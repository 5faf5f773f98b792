"""The sender's claim order (priority first, then due time) as a partial index over pending
messages (campaigns.models.Message, `message_claim`)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_journeys"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("status__in", ("queued", "sending"))),
                fields=["-priority", "due_at"],
                name="message_claim",
            ),
        ),
    ]
