"""The message events messaging puts on affiliates' timelines (crm's event ingest accepts only
standard types and the UDN's registered kinds): one EventKind per message status worth showing.
Written in every UDN schema (campaigns is a tenant app); kinds a UDN already has are left as
they are."""

from django.db import migrations

# campaigns.services.statuses.MESSAGE_EVENT_TYPES names the same codes; a migration keeps its own
# copy (it must not change when the code does).
KINDS = [
    ("message_sent", "Mensagem enviada", "O provedor aceitou a mensagem."),
    ("message_delivered", "Mensagem entregue", "A mensagem chegou ao aparelho ou à caixa de entrada."),
    ("message_read", "Mensagem lida", "O afiliado abriu a mensagem."),
    ("message_clicked", "Link da mensagem clicado", "O afiliado clicou em um link da mensagem."),
    ("message_bounced", "Mensagem devolvida", "O endereço recusou a mensagem."),
    ("message_failed", "Mensagem não entregue", "O provedor não conseguiu entregar a mensagem."),
    ("message_replied", "Mensagem respondida", "O afiliado respondeu a uma mensagem."),
]


def kinds_add(apps, schema_editor):
    EventKind = apps.get_model("crm", "EventKind")
    for code, label, description in KINDS:
        EventKind.objects.get_or_create(code=code, defaults={"label": label, "description": description})


def kinds_remove(apps, schema_editor):
    EventKind = apps.get_model("crm", "EventKind")
    EventKind.objects.filter(code__in=[code for code, _label, _description in KINDS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("crm", "0012_channels_telegram"),
    ]

    operations = [migrations.RunPython(kinds_add, kinds_remove)]
