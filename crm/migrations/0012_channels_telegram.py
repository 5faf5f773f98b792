"""The channel registry (crm.channels): Telegram joins as a channel (its consent field, the chat id
it is sent to, the ledger's choices), and the consent fields get a database default, so set-based
writers need not name every channel."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0011_audit_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="affiliate",
            name="consent_telegram",
            field=models.BooleanField(db_default=False, default=False, verbose_name="Telegram consent"),
        ),
        migrations.AddField(
            model_name="affiliate",
            name="telegram_chat_id",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=32, verbose_name="Telegram chat id"
            ),
        ),
        migrations.AlterField(
            model_name="affiliate",
            name="consent_email",
            field=models.BooleanField(db_default=False, default=False, verbose_name="e-mail consent"),
        ),
        migrations.AlterField(
            model_name="affiliate",
            name="consent_push",
            field=models.BooleanField(db_default=False, default=False, verbose_name="push consent"),
        ),
        migrations.AlterField(
            model_name="affiliate",
            name="consent_sms",
            field=models.BooleanField(db_default=False, default=False, verbose_name="SMS consent"),
        ),
        migrations.AlterField(
            model_name="affiliate",
            name="consent_whatsapp",
            field=models.BooleanField(db_default=False, default=False, verbose_name="WhatsApp consent"),
        ),
        migrations.AlterField(
            model_name="consentchange",
            name="channel",
            field=models.CharField(
                choices=[
                    ("email", "E-mail"),
                    ("whatsapp", "WhatsApp"),
                    ("sms", "SMS"),
                    ("push", "Push"),
                    ("telegram", "Telegram"),
                ],
                max_length=16,
                verbose_name="channel",
            ),
        ),
    ]
