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
