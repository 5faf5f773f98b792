"""The "Modelos" pages: the list (search, channel, pages, empty state), the editor of each channel,
the live preview with a chosen affiliate and the SMS count, the test send, and who may write."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from campaigns.models import MessageTemplate
from campaigns.views.templates import PAGE_SIZE
from crm.tests.factories import AffiliateFactory


@pytest.fixture
def writer(udn_a, marketer, client_for):
    return client_for(udn_a, marketer)


@pytest.fixture
def reader(udn_a, analyst, client_for):
    return client_for(udn_a, analyst)


def make_template(udn, **fields) -> MessageTemplate:
    with tenant_context(udn):
        return MessageTemplate.objects.create(**fields)


def row_names(html: str) -> list[str]:
    return re.findall(r'data-testid="template-row"[^>]*>\s*<td><a href="[^"]+">([^<]+)</a>', html)


def test_the_menu_offers_modelos_and_the_empty_list_says_what_to_do(writer):
    html = writer.get("/templates/").content.decode()

    assert '<a href="/templates/">Modelos</a>' in html
    assert 'data-testid="templates-empty"' in html and "Nenhum modelo ainda." in html
    for channel in ("email", "whatsapp", "sms", "push", "telegram"):
        assert f'href="/templates/new/{channel}/"' in html


def test_the_list_searches_filters_by_channel_and_pages(udn_a, writer):
    make_template(
        udn_a, slug="boas-vindas", name="Boas-vindas", channel="email", subject="Oi", body_text="Oi"
    )
    make_template(udn_a, slug="lembrete-sms", name="Lembrete", channel="sms", body_text="Oi")
    for n in range(PAGE_SIZE):
        make_template(udn_a, slug=f"zz-{n:02d}", name=f"Zz {n:02d}", channel="push", title="T", body_text="B")

    first = writer.get("/templates/").content.decode()
    second = writer.get("/templates/?page=2").content.decode()
    searched = writer.get("/templates/?q=lembr").content.decode()
    by_channel = writer.get("/templates/?channel=email", HTTP_HX_REQUEST="true").content.decode()
    nothing = writer.get("/templates/?q=inexistente").content.decode()

    assert row_names(first)[:2] == ["Boas-vindas", "Lembrete"] and len(row_names(first)) == PAGE_SIZE
    assert row_names(second) == [f"Zz {PAGE_SIZE - 2:02d}", f"Zz {PAGE_SIZE - 1:02d}"]
    assert 'data-count="27"' in first and "27 modelos" in first
    assert row_names(searched) == ["Lembrete"]
    assert row_names(by_channel) == ["Boas-vindas"] and "<html" not in by_channel  # the htmx fragment
    assert "Nenhum modelo corresponde a esta busca." in nothing


def test_each_channel_editor_shows_only_its_fields(writer):
    fields = {
        channel: set(re.findall(r'name="(\w+)"', writer.get(f"/templates/new/{channel}/").content.decode()))
        for channel in ("email", "whatsapp", "sms", "push", "telegram")
    }
    own = {
        "subject",
        "body_html",
        "body_text",
        "title",
        "link_url",
        "button_text",
        "wa_template_name",
        "wa_language",
        "wa_parameters",
    }

    assert fields["email"] & own == {"subject", "body_html", "body_text"}
    assert fields["whatsapp"] & own == {"wa_template_name", "wa_language", "wa_parameters", "body_text"}
    assert fields["sms"] & own == {"body_text"}
    assert fields["push"] & own == {"title", "body_text", "link_url"}
    assert fields["telegram"] & own == {"body_text", "button_text", "link_url"}
    assert writer.get("/templates/new/fax/").status_code == 404


def test_creating_a_template_saves_it_and_an_unknown_variable_is_shown_on_its_field(udn_a, writer):
    refused = writer.post("/templates/new/sms/", {"name": "Promo", "body_text": "Oi {{ primeironome }}"})
    assert refused.status_code == 400
    assert "Variável desconhecida “primeironome” no campo “texto”." in refused.content.decode()

    created = writer.post(
        "/templates/new/sms/", {"name": "Promo de março", "body_text": "Oi {{ primeiro_nome }}"}
    )
    with tenant_context(udn_a):
        template = MessageTemplate.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/templates/{template.pk}/"
    assert (template.slug, template.channel, template.variables) == (
        "promo-de-marco",
        "sms",
        ["primeiro_nome"],
    )
    assert template.created_by == "marina.marketing@alpha.test"

    edited = writer.post(
        f"/templates/{template.pk}/", {"name": "Promo", "slug": "promo", "body_text": "Olá {{ nome }}"}
    )
    assert edited.status_code == 302
    page = writer.get(f"/templates/{template.pk}/").content.decode()
    assert "Modelo “Promo” salvo." in page and "Olá {{ nome }}" in page


def test_the_preview_fills_in_a_chosen_affiliate_and_counts_sms_segments(udn_a, writer):
    with tenant_context(udn_a):
        bia = AffiliateFactory(
            bare=True, name="Beatriz Araújo", external_id="B-77", tier="Ouro", total_cash_in=Decimal("99.9")
        )

    found = writer.get("/templates/affiliates/", {"preview_search": "beatriz araujo"}).content.decode()
    assert f'value="{bia.pk}"' in found and "Beatriz Araújo" in found

    examples = writer.post(
        "/templates/preview/sms/", {"body_text": "Oi {{ primeiro_nome }}, {{ total_depositado }}"}
    ).content.decode()
    chosen = writer.post(
        "/templates/preview/sms/",
        {"body_text": "Oi {{ primeiro_nome }}, {{ total_depositado }}", "preview_affiliate": bia.pk},
    ).content.decode()
    accented = writer.post("/templates/preview/sms/", {"body_text": "Olá " + "ç" * 70}).content.decode()
    wrong = writer.post("/templates/preview/sms/", {"body_text": "{{ xyz }}"}).content.decode()

    assert "Oi Joana, R$ 1.234,56" in examples
    assert "Oi Beatriz, R$ 99,90" in chosen and "Preenchido para Beatriz Araújo." in chosen
    assert 'id="sms-count"' in chosen and 'hx-swap-oob="true"' in chosen
    assert (
        'data-encoding="GSM-7" data-segments="1"' in chosen
        and "GSM-7 · 1 segmento · 20/160 caracteres" in chosen
    )
    assert 'data-encoding="UCS-2" data-segments="2"' in accented and "2 segmentos" in accented
    assert "Variável desconhecida “xyz” no campo “texto”." in wrong


def test_the_email_preview_shows_subject_and_parts(writer):
    html = writer.post(
        "/templates/preview/email/", {"subject": "Oi {{ primeiro_nome }}", "body_html": "<p>{{ nivel }}</p>"}
    ).content.decode()

    assert 'data-testid="preview-subject">Oi Joana<' in html
    assert "srcdoc=" in html and "&lt;p&gt;Prata&lt;/p&gt;" in html
    assert "List-Unsubscribe-Post" in html


def test_an_analyst_reads_and_previews_but_cannot_write(udn_a, reader):
    template = make_template(udn_a, slug="x", name="X", channel="sms", body_text="Oi")

    page = reader.get(f"/templates/{template.pk}/").content.decode()
    assert 'data-testid="read-only"' in page and 'data-testid="template-save"' not in page
    assert "readonly" in page and 'data-testid="test-send"' not in page
    assert 'href="/templates/new/' not in reader.get("/templates/").content.decode()
    assert reader.post("/templates/preview/sms/", {"body_text": "Oi {{ nome }}"}).status_code == 200

    assert reader.get("/templates/new/sms/").status_code == 403
    assert reader.post("/templates/new/sms/", {"name": "Y", "body_text": "Oi"}).status_code == 403
    assert reader.post(f"/templates/{template.pk}/", {"name": "Z", "body_text": "Oi"}).status_code == 403
    assert reader.post(f"/templates/{template.pk}/test/", {"address": "11987654321"}).status_code == 403
    with tenant_context(udn_a):
        assert MessageTemplate.objects.get().name == "X" and MessageTemplate.objects.count() == 1


def test_another_udns_member_gets_nothing(udn_a, outsider, client_for):
    template = make_template(udn_a, slug="x", name="X", channel="sms", body_text="Oi")
    client = client_for(udn_a, outsider)

    assert client.get("/templates/").status_code == 403
    assert client.get(f"/templates/{template.pk}/").status_code == 403
    assert client.post("/templates/preview/sms/", {"body_text": "Oi"}).status_code == 403


def test_a_test_send_needs_an_affiliate_and_a_valid_address(udn_a, writer):
    template = make_template(udn_a, slug="x", name="X", channel="sms", body_text="Oi {{ primeiro_nome }}")
    with tenant_context(udn_a):
        bia = AffiliateFactory(bare=True, name="Beatriz Araújo")

    no_affiliate = writer.post(f"/templates/{template.pk}/test/", {"address": "11987654321"})
    bad_number = writer.post(
        f"/templates/{template.pk}/test/", {"address": "123", "preview_affiliate": bia.pk}
    )

    assert (
        no_affiliate.status_code == 400 and "Escolha um afiliado na prévia" in no_affiliate.content.decode()
    )
    assert bad_number.status_code == 400 and "Informe um celular brasileiro" in bad_number.content.decode()


def _sandbox_outbox_clear(to: str) -> None:
    """Remove what the sandbox process committed for `to` (outside this test's transaction)."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or None, autocommit=True
    ) as other:
        other.execute('DELETE FROM alpha.campaigns_sandboxmessage WHERE "to" = %s', [to])


@pytest.mark.usefixtures("sandbox_process")
def test_a_test_send_reaches_the_marketer_through_the_sandbox_whatever_the_affiliate_allows(
    udn_a, writer, marketer
):
    """ "Enviar teste para mim": the message goes to the marketer's own e-mail, filled in with the
    chosen affiliate's data, through the outbox, the sender and the sandbox's SMTP, although the
    affiliate has no e-mail consent, their cap is used up, it is quiet time and the shared
    contact-pressure budget is spent: those are the affiliate's, and the affiliate gets nothing."""
    from datetime import time as clock_time
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import (
        CapPeriod,
        FrequencyCap,
        Message,
        MessageStatus,
        QuietHours,
        SandboxMessage,
    )
    from campaigns.pressure.models import ContactPressure, PressureBudget
    from campaigns.services.pressure import pressure_day, pressure_person
    from campaigns.services.sender import messages_send_batch

    template = make_template(
        udn_a, slug="oi", name="Oi", channel="email", subject="Oi {{ primeiro_nome }}", body_text="Olá!"
    )
    with tenant_context(udn_a):
        bia = AffiliateFactory(
            name="Beatriz Araújo", email="bia@example.com", cpf="52998224725", consent_email=False
        )
        FrequencyCap.objects.create(channel="email", period=CapPeriod.DAY, limit=1)
        Message.objects.create(
            affiliate=bia, template=template, channel="email", source="api",
            status=MessageStatus.SENT, sent_at=timezone.now() - timedelta(hours=1),
        )  # fmt: skip
        QuietHours.objects.create(enabled=True, start=clock_time(0, 0), end=clock_time(23, 59, 59))
    PressureBudget.objects.create(channel="email", per_day=1, per_week=7)
    ContactPressure.objects.create(
        person=pressure_person(bia), channel="email", day=pressure_day(timezone.now()), count=1
    )
    try:
        response = writer.post(f"/templates/{template.pk}/test/", {"preview_affiliate": bia.pk})
        assert response.status_code == 200, response.content.decode()
        with tenant_context(udn_a):
            message = Message.objects.get(source="test")
            assert message.status == MessageStatus.QUEUED
            assert messages_send_batch() == (1, 1)
            message.refresh_from_db()
            assert message.status == MessageStatus.SENT and message.rendered["to"] == marketer.email
            received = SandboxMessage.objects.get(provider_message_id=message.provider_message_id)
            assert (received.to, received.subject) == (marketer.email, "Oi Beatriz")
            assert not SandboxMessage.objects.filter(to=bia.email).exists()
        assert ContactPressure.objects.get().count == 1  # the affiliate's budget is not spent
    finally:
        _sandbox_outbox_clear(marketer.email)
