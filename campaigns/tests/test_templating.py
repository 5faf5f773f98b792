"""Templates: the variables, what is refused when a template is saved, each channel's payload as
its provider takes it, Brazilian formatting, the unsubscribe link and SMS segment counting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from campaigns.models import Message, MessageSource, MessageTemplate
from campaigns.services.templates import template_save
from campaigns.templating import (
    GSM7_BASIC,
    VARIABLES,
    event_variables,
    message_render,
    sms_count,
    sms_segments,
    template_validate,
    template_variables,
    unsubscribe_token,
)
from crm.models import AuditEntry, ConsentChange
from crm.tests.factories import AffiliateFactory, EventFactory
from devtools.pytest_plugins.people import host_of


@pytest.fixture
def alpha(udn_a):
    with tenant_context(udn_a):
        yield udn_a


@pytest.fixture
def joana(alpha):
    affiliate = AffiliateFactory(
        bare=True,
        external_id="A-100",
        name="JOANA Conceição da Silva",
        email="joana@exemplo.com.br",
        phone="+5511987654321",
        telegram_chat_id="123456789",
        city="São Paulo",
        state="SP",
        plan="Plano Ouro",
        tier="Prata",
        total_cash_in=Decimal("1234.56"),
        attributes={"push_token": "fcm-device-token-1"},
        consent_email=True,
    )
    EventFactory(
        affiliate=affiliate,
        type="cash_in",
        amount=Decimal("100.00"),
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    EventFactory(
        affiliate=affiliate,
        type="cash_in",
        amount=Decimal("2500.5"),
        occurred_at=datetime(2026, 3, 9, tzinfo=UTC),
    )
    EventFactory(
        affiliate=affiliate,
        type="cashout",
        amount=Decimal("9.99"),
        occurred_at=datetime(2026, 4, 1, tzinfo=UTC),
    )
    return affiliate


def make(channel: str, **fields) -> MessageTemplate:
    return MessageTemplate(slug=f"t-{channel}", name=f"T {channel}", channel=channel, **fields)


# --- Variables -----------------------------------------------------------------------------------


def test_every_catalogue_variable_renders_from_the_affiliate(joana, settings):
    settings.APP_DEEP_LINK_BASE = "udnapp://abrir/"
    body = " | ".join(f"{name}={{{{ {name} }}}}" for name in VARIABLES if name != "link_descadastro")
    payload = message_render(template=make("sms", body_text=body), affiliate=joana, variables={})

    assert payload["text"] == (
        "primeiro_nome=Joana | nome=JOANA Conceição da Silva | email=joana@exemplo.com.br"
        " | telefone=(11) 98765-4321 | cidade=São Paulo | estado=SP | plano=Plano Ouro | nivel=Prata"
        " | total_depositado=R$ 1.234,56 | ultimo_cash_in=R$ 2.500,50 | link_app=udnapp://abrir/"
    )


def test_missing_values_render_empty_or_as_the_default(alpha):
    bare = AffiliateFactory(bare=True, name="Rui")
    template = make(
        "sms",
        body_text="[{{ cidade }}][{{ nivel|default:'sem nível' }}][{{ ultimo_cash_in }}][{{ evento.valor }}]"
        "[{{ dados.cupom|default:'SEM' }}][{{ evento.items }}]",
    )

    assert template_validate(template) == []
    assert message_render(template=template, affiliate=bare)["text"] == "[][sem nível][][][SEM][]"


def test_event_properties_and_caller_variables(joana):
    event = EventFactory(
        affiliate=joana,
        type="cash_in",
        amount=Decimal("250"),
        occurred_at=datetime(2026, 11, 22, 1, 30, tzinfo=UTC),
        properties={"produto": "Cartão", "vence": "2026-12-05"},
    )
    template = make(
        "sms",
        body_text="{{ evento.tipo }} {{ evento.valor }} em {{ evento.data }}: {{ evento.produto|upper }},"
        " vence {{ evento.vence|data }}, cupom {{ dados.cupom }}, {{ dados.total|reais }}",
    )

    text = message_render(
        template=template,
        affiliate=joana,
        variables={**event_variables(event), "cupom": "BEMVINDO", "total": "1234.5"},
    )["text"]

    # 01:30 UTC is still the 21st in São Paulo.
    assert text == "cash_in R$ 250,00 em 21/11/2026: CARTÃO, vence 05/12/2026, cupom BEMVINDO, R$ 1.234,50"


def test_the_variables_a_template_uses_are_listed(alpha):
    template = make(
        "email",
        subject="Oi {{ primeiro_nome }}",
        body_html="<p>{{ nivel|upper }} {{ evento.valor|default:total_depositado }}</p>",
    )

    assert template_variables(template) == ["evento.valor", "nivel", "primeiro_nome", "total_depositado"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1234.56", "R$ 1.234,56"),
        ("0", "R$ 0,00"),
        ("1234567.8", "R$ 1.234.567,80"),
        ("250,5", "R$ 250,50"),
        ("-3.1", "-R$ 3,10"),
        ("abc", "abc"),
    ],
)
def test_money_reads_the_brazilian_way(alpha, value, shown):
    text = message_render(
        template=make("sms", body_text="{{ dados.v|reais }}"), affiliate=None, variables={"v": value}
    )["text"]

    assert text == shown


# --- Refusals when saving ------------------------------------------------------------------------


def test_an_unknown_variable_is_refused_when_saved_naming_it_and_the_field(alpha):
    template = MessageTemplate(channel="email")

    with pytest.raises(ValidationError) as refused:
        template_save(
            template=template,
            data={"name": "Boas-vindas", "subject": "Oi {{ primeiro_nom }}", "body_text": "Olá"},
        )

    assert refused.value.message_dict == {
        "subject": ["Variável desconhecida “primeiro_nom” no campo “assunto”."]
    }
    assert not MessageTemplate.objects.exists()


def test_tags_and_unknown_filters_are_refused_when_saved(alpha):
    with pytest.raises(ValidationError) as tags:
        template_save(
            template=MessageTemplate(channel="sms"),
            data={"name": "X", "body_text": "{% if nivel %}VIP{% endif %}"},
        )
    with pytest.raises(ValidationError) as filters:
        template_save(
            template=MessageTemplate(channel="sms"), data={"name": "X", "body_text": "{{ nome|safe }}"}
        )
    with pytest.raises(ValidationError) as private:
        template_save(
            template=MessageTemplate(channel="sms"), data={"name": "X", "body_text": "{{ evento._x }}"}
        )

    assert tags.value.message_dict["body_text"] == [
        "O campo “texto” usa uma {% tag %}: nos modelos só são permitidas {{ variáveis }}."
    ]
    assert filters.value.message_dict["body_text"] == [
        "O campo “texto” usa o filtro “safe”, que não existe. Filtros: default, upper, lower, title, capfirst, reais, data."
    ]
    assert "“_”" in private.value.message_dict["body_text"][0]


def test_required_fields_per_channel_are_asked_for(alpha):
    with pytest.raises(ValidationError) as push:
        template_save(template=MessageTemplate(channel="push"), data={"name": "P", "body_text": "Oi"})
    with pytest.raises(ValidationError) as telegram:
        template_save(
            template=MessageTemplate(channel="telegram"),
            data={"name": "T", "body_text": "Oi", "button_text": "Abrir"},
        )

    assert push.value.message_dict == {"title": ["Preencha o campo “título”."]}
    assert telegram.value.message_dict == {"link_url": ["Um botão do Telegram precisa do texto e do link."]}


def test_a_saved_template_keeps_its_variables_a_slug_and_an_audit_entry(alpha):
    saved = template_save(
        template=MessageTemplate(channel="whatsapp"),
        data={"name": "Lembrete de depósito", "wa_template_name": "lembrete", "wa_language": "pt_BR",
              "wa_parameters": ["{{ primeiro_nome }}", "  ", "{{ ultimo_cash_in }}"]},
    )  # fmt: skip

    assert saved.slug == "lembrete-de-deposito"
    assert saved.wa_parameters == ["{{ primeiro_nome }}", "{{ ultimo_cash_in }}"]
    assert saved.variables == ["primeiro_nome", "ultimo_cash_in"]
    entry = AuditEntry.objects.get(target_type="message_template", target_id=str(saved.pk))
    assert entry.action == "message_template.created" and entry.changes == {"channel": "whatsapp"}

    template_save(template=saved, data={"name": "Lembrete", "wa_parameters": ["{{ nome }}"]})
    saved.refresh_from_db()
    assert saved.variables == ["nome"] and saved.slug == "lembrete-de-deposito"
    assert AuditEntry.objects.filter(
        action="message_template.updated", changes__fields=["name", "wa_parameters"]
    ).exists()


def test_the_audit_log_names_template_changes_in_portuguese(alpha):
    from zoneinfo import ZoneInfo

    from django.utils import translation

    from crm.selectors.audit import audit_rows

    saved = template_save(template=MessageTemplate(channel="sms"), data={"name": "Aviso", "body_text": "Oi"})
    template_save(template=saved, data={"name": "Aviso de saque"})
    entries = AuditEntry.objects.filter(target_type="message_template").order_by("pk")
    with translation.override("pt-br"):
        rows = audit_rows(entries, tz=ZoneInfo("America/Sao_Paulo"))
    assert [(row.action, row.target) for row in rows] == [
        ("Modelo de mensagem criado", f"Modelo de mensagem #{saved.pk}"),
        ("Modelo de mensagem alterado", f"Modelo de mensagem #{saved.pk}"),
    ]


# --- Payloads per channel -------------------------------------------------------------------------


def test_whatsapp_template_message_payload(joana):
    template = make("whatsapp", wa_template_name="lembrete_deposito", wa_language="pt_BR",
                    wa_parameters=["{{ primeiro_nome }}", "{{ ultimo_cash_in }}", "{{ cidade }}\n\n  {{ estado }}", "{{ plano_x|default:'' }}{{ dados.nada }}"])  # fmt: skip

    payload = message_render(template=template, affiliate=joana)

    assert payload == {
        "messaging_product": "whatsapp",
        "to": "5511987654321",
        "type": "template",
        "template": {
            "name": "lembrete_deposito",
            "language": {"code": "pt_BR"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Joana"},
                        {"type": "text", "text": "R$ 2.500,50"},
                        {"type": "text", "text": "São Paulo SP"},
                        {"type": "text", "text": "-"},
                    ],
                }
            ],
        },
    }


def test_whatsapp_free_text_payload(joana):
    payload = message_render(template=make("whatsapp", body_text="Oi {{ primeiro_nome }}!"), affiliate=joana)

    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511987654321",
        "type": "text",
        "text": {"preview_url": False, "body": "Oi Joana!"},
    }


def test_sms_push_and_telegram_payloads(joana, settings):
    settings.APP_DEEP_LINK_BASE = "udnapp://"
    sms = message_render(
        template=make("sms", body_text="{{ primeiro_nome }}, seu nível: {{ nivel }}"), affiliate=joana
    )
    push = message_render(
        template=make(
            "push",
            title="Olá {{ primeiro_nome }}",
            body_text="Você tem {{ total_depositado }}",
            link_url="{{ link_app }}carteira",
        ),
        affiliate=joana,
    )
    telegram = message_render(
        template=make(
            "telegram",
            body_text="Oi {{ primeiro_nome }}",
            button_text="Abrir o app",
            link_url="https://app.exemplo.com.br/{{ estado|lower }}",
        ),
        affiliate=joana,
    )

    assert sms == {"to": "+5511987654321", "text": "Joana, seu nível: Prata"}
    assert push == {
        "message": {
            "token": "fcm-device-token-1",
            "notification": {"title": "Olá Joana", "body": "Você tem R$ 1.234,56"},
            "data": {"link": "udnapp://carteira"},
        }
    }
    assert telegram == {
        "chat_id": "123456789",
        "text": "Oi Joana",
        "reply_markup": {
            "inline_keyboard": [[{"text": "Abrir o app", "url": "https://app.exemplo.com.br/sp"}]]
        },
    }


def test_email_payload_has_both_parts_the_unsubscribe_link_and_the_one_click_headers(joana, udn_a):
    template = make(
        "email",
        subject="Oi\n{{ primeiro_nome }}",
        body_html="<html><body><p>Olá, {{ nome|title }} &amp; {{ dados.x }}</p></body></html>",
    )

    payload = message_render(template=template, affiliate=joana, variables={"x": "<b>"})

    assert set(payload) == {"to", "subject", "html", "text", "headers"}
    assert payload["to"] == "joana@exemplo.com.br"
    assert payload["subject"] == "Oi Joana"
    unsubscribe = payload["headers"]["List-Unsubscribe"].strip("<>")
    assert payload["headers"] == {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    parts = urlsplit(unsubscribe)
    assert parts.scheme == "https" and parts.netloc == host_of(udn_a) and parts.path.startswith("/u/")
    assert "<p>Olá, Joana Conceição Da Silva &amp; &lt;b&gt;</p>" in payload["html"]
    assert f'<a href="{unsubscribe}">Descadastrar</a>' in payload["html"]
    assert payload["html"].index("Descadastrar") < payload["html"].index("</body>")
    assert (
        payload["text"]
        == f"Olá, Joana Conceição Da Silva & <b>\n\n--\nPara não receber mais estes e-mails: {unsubscribe}"
    )


def test_an_email_that_places_the_unsubscribe_link_itself_gets_no_footer(joana):
    template = make("email", subject="Oi", body_text="Oi {{ primeiro_nome }}.\nSair: {{ link_descadastro }}")

    payload = message_render(template=template, affiliate=joana)

    assert payload["text"] == f"Oi Joana.\nSair: {payload['headers']['List-Unsubscribe'].strip('<>')}"
    assert (
        payload["html"] == f"<p>Oi Joana.<br>Sair: {payload['headers']['List-Unsubscribe'].strip('<>')}</p>"
    )


def test_links_of_a_message_are_wrapped_for_tracking_but_not_the_unsubscribe_link(joana):
    template = MessageTemplate.objects.create(slug="promo", name="Promo", channel="email", subject="Promo",
                                              body_text="Veja https://loja.exemplo.com.br/ofertas?x=1.")  # fmt: skip
    message = Message.objects.create(
        affiliate=joana, template=template, channel="email", source=MessageSource.TEST
    )

    payload = message_render(template=template, affiliate=joana, message=message)

    unsubscribe = payload["headers"]["List-Unsubscribe"].strip("<>")
    assert "https://loja.exemplo.com.br" not in payload["text"]
    assert "/r/" in payload["text"] and payload["text"].count(unsubscribe) == 1


# --- Unsubscribe ---------------------------------------------------------------------------------


def test_unsubscribe_link_round_trip_confirm_page_then_one_click_post(joana, udn_a):
    url = message_render(template=make("email", subject="Oi", body_text="Oi"), affiliate=joana)["headers"][
        "List-Unsubscribe"
    ].strip("<>")
    path = urlsplit(url).path
    # A mail client: no session, no CSRF cookie.
    client = Client(HTTP_HOST=host_of(udn_a), enforce_csrf_checks=True)

    page = client.get(path)
    assert page.status_code == 200 and 'data-testid="unsubscribe-form"' in page.content.decode()
    joana.refresh_from_db()
    assert joana.consent_email is True  # a GET (a link scanner) changes nothing

    done = client.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert done.status_code == 200 and "Você não receberá mais nossos e-mails." in done.content.decode()
    joana.refresh_from_db()
    assert joana.consent_email is False
    change = ConsentChange.objects.get(affiliate=joana)
    assert (change.channel, change.granted, change.source) == ("email", False, "unsubscribe")

    assert client.post(path).status_code == 200  # again: nothing new in the ledger
    assert ConsentChange.objects.filter(affiliate=joana).count() == 1


def test_an_altered_or_foreign_unsubscribe_link_is_refused(joana, udn_a, udn_b):
    token = unsubscribe_token(affiliate=joana)
    client = Client(HTTP_HOST=host_of(udn_a))
    assert client.post(f"/u/{token[:-2]}xx/").status_code == 404

    other = Client(HTTP_HOST=host_of(udn_b))
    assert other.post(f"/u/{token}/").status_code == 404
    connection.set_tenant(udn_a)  # type: ignore[attr-defined]
    joana.refresh_from_db()
    assert joana.consent_email is True


# --- SMS segments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0)),
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 306, ("GSM-7", 2)),
        ("a" * 307, ("GSM-7", 3)),
        # Extension characters cost two septets: 80 "€" fill one message, 81 need two.
        ("€" * 80, ("GSM-7", 1)),
        ("€" * 81, ("GSM-7", 2)),
        ("{}[]~|^\\", ("GSM-7", 1)),
        # An escape sequence is never split across parts: 152 + "€" = 154 septets → part 1 holds 152.
        ("a" * 152 + "€" + "a" * 7, ("GSM-7", 2)),
        ("a" * 152 + "€" + "a" * 153, ("GSM-7", 3)),
        ("a" * 153 + "a" * 152 + "€", ("GSM-7", 3)),
        # GSM 03.38 has the capital Ç, the small ç is not in it (nor ã, á, ê...).
        ("AÇÚCAR", ("UCS-2", 1)),
        ("ÇA", ("GSM-7", 1)),
        ("Olá", ("UCS-2", 1)),
        ("ç" * 70, ("UCS-2", 1)),
        ("ç" * 71, ("UCS-2", 2)),
        ("ç" * 134, ("UCS-2", 2)),
        ("ç" * 135, ("UCS-2", 3)),
        # An emoji outside the BMP is two UTF-16 units: 35 fit, 36 do not; a pair is not split.
        ("😀" * 35, ("UCS-2", 1)),
        ("😀" * 36, ("UCS-2", 2)),
        ("a" * 66 + "😀", ("UCS-2", 1)),
        ("a" * 66 + "😀" + "a" * 3, ("UCS-2", 2)),
        ("àèéìòùäöüñÑÜÖÄ@£$¥§¿¡ΔΦΓΛΩΠΨΣΘΞÆæßÉØøÅå", ("GSM-7", 1)),
    ],
)
def test_sms_segments(text, expected):
    assert sms_segments(text) == expected


def test_the_basic_table_has_128_positions_and_the_count_shows_its_limit():
    assert len(GSM7_BASIC) == 128
    count = sms_count("a" * 161)
    assert (count.encoding, count.segments, count.units, count.limit) == ("GSM-7", 2, 161, 306)
    assert sms_count("ç").limit == 70
