"""Contact pressure: each slot kept as a reservation keyed by the message's idempotency key (a
retried send counts once), and the bids for a person's last slot (the higher priority wins it)."""

from django.db import migrations, models

CHANNELS = [
    ("email", "E-mail"),
    ("whatsapp", "WhatsApp"),
    ("sms", "SMS"),
    ("push", "Push"),
    ("telegram", "Telegram"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("pressure", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="PressureReservation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.UUIDField(unique=True, verbose_name="message key")),
                ("person", models.CharField(max_length=64, verbose_name="person (keyed hash)")),
                ("channel", models.CharField(choices=CHANNELS, max_length=16, verbose_name="channel")),
                ("day", models.DateField(verbose_name="day")),
            ],
            options={
                "verbose_name": "contact-pressure reservation",
                "verbose_name_plural": "contact-pressure reservations",
                "indexes": [
                    models.Index(fields=["person", "channel", "day"], name="pressurereservation_person")
                ],
            },
        ),
        migrations.CreateModel(
            name="PressureBid",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.UUIDField(unique=True, verbose_name="message key")),
                ("person", models.CharField(max_length=64, verbose_name="person (keyed hash)")),
                ("channel", models.CharField(choices=CHANNELS, max_length=16, verbose_name="channel")),
                ("day", models.DateField(verbose_name="day")),
                ("priority", models.PositiveSmallIntegerField(verbose_name="priority")),
                ("matures_at", models.DateTimeField(verbose_name="matures at")),
                ("expires_at", models.DateTimeField(verbose_name="expires at")),
            ],
            options={
                "verbose_name": "contact-pressure bid",
                "verbose_name_plural": "contact-pressure bids",
                "indexes": [models.Index(fields=["person", "channel", "day"], name="pressurebid_person")],
            },
        ),
    ]
