import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import translation
from django.utils.translation import ngettext

from crm.channels import CHANNELS
from crm.models import API_SCOPE_LABELS, WEBHOOK_EVENT_LABELS, ApiScope, WebhookEvent
from crm.templatetags.crm_format import api_scope_label, brl, cpf, phone_br, webhook_event_label
from crm.views.affiliates import CUSTOM_EVENT_ICON, EVENT_ICONS


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1234.5"), "R$\u00a01.234,50"),
        ("0", "R$\u00a00,00"),
        (Decimal("-15.2"), "-R$\u00a015,20"),
        (1000000, "R$\u00a01.000.000,00"),
        (None, ""),
    ],
)
def test_brl_uses_brazilian_separators_and_two_places(value, shown):
    assert brl(value) == shown


def test_cpf_and_phone_are_shown_the_brazilian_way():
    assert cpf("12345678909") == "123.456.789-09"
    assert phone_br("+5511987654321") == "(11) 98765-4321"
    assert phone_br("+14155550123") == "+14155550123"


# --- counts, icons and labels (issue 9: layout and words) ------------------------------------------

EMOJI_OR_DINGBAT = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u25c6\u25b2\u25bc\u25be\u2713\u2717\u26a0]"
)
ROOT = Path(__file__).resolve().parents[2]


def test_counts_of_zero_and_many_are_plural_in_portuguese_and_one_is_singular():
    with translation.override("pt-br"):
        shown = [ngettext("%(shown)s affiliate", "%(shown)s affiliates", n) % {"shown": n} for n in (0, 1, 2)]
    assert shown == ["0 afiliados", "1 afiliado", "2 afiliados"]


def test_counts_are_shown_with_the_thousands_separator_of_the_language():
    template = Template("{% load humanize %}{{ n|intcomma }}")
    with translation.override("pt-br"):
        assert template.render(Context({"n": 1234567})) == "1.234.567"
    with translation.override("en"):
        assert template.render(Context({"n": 1234567})) == "1,234,567"


def test_no_template_or_module_uses_emoji_or_dingbats_as_icons():
    sources = [
        path
        for folder in ("crm", "tenants", "campaigns", "warroom", "templates")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".html", ".py"} and "tests" not in path.parts and "migrations" not in path.parts
    ]
    offenders = {
        str(path.relative_to(ROOT)): EMOJI_OR_DINGBAT.findall(path.read_text(encoding="utf-8"))
        for path in sources
        if EMOJI_OR_DINGBAT.search(path.read_text(encoding="utf-8"))
    }
    assert len(sources) > 40
    assert offenders == {}


def test_every_icon_the_ui_names_is_in_the_local_sprite_with_its_licence():
    sprite = (ROOT / "static" / "icons" / "sprite.svg").read_text()
    symbols = set(re.findall(r'<symbol id="([^"]+)"', sprite))
    named = set(EVENT_ICONS.values()) | {CUSTOM_EVENT_ICON} | {channel.icon for channel in CHANNELS}
    for path in [
        *(ROOT / "crm").rglob("*.html"),
        *(ROOT / "tenants").rglob("*.html"),
        *(ROOT / "templates").rglob("*.html"),
    ]:
        named |= set(re.findall(r'{% icon "([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    assert len(named) > 20
    assert named - symbols == set()
    assert "ISC License" in (ROOT / "static" / "icons" / "LICENSE").read_text()


def test_the_icon_tag_points_at_the_sprite_and_is_hidden_from_screen_readers_unless_labelled():
    decorative = Template('{% load icons %}{% icon "bell" %}').render(Context())
    labelled = Template('{% load icons %}{% icon "bell" label="Avisos" %}').render(Context())

    assert '<use href="/static/icons/sprite.svg#bell">' in decorative and 'aria-hidden="true"' in decorative
    assert 'role="img" aria-label="Avisos"' in labelled and "aria-hidden" not in labelled


def test_scopes_and_webhook_events_read_in_portuguese_and_unknown_ones_stay_as_they_are():
    with translation.override("pt-br"):
        assert api_scope_label("affiliates:read") == "Ler afiliados"
        assert api_scope_label("events:write") == "Enviar eventos"
        assert webhook_event_label("affiliate.stage_changed") == "Afiliado mudou de estágio"
        assert api_scope_label("future:scope") == "future:scope"
    assert set(API_SCOPE_LABELS) == set(ApiScope.values)
    assert set(WEBHOOK_EVENT_LABELS) == set(WebhookEvent.values)


def test_the_segment_builder_live_count_uses_the_thousands_separator():
    """The segment builder's "Quem atende agora" said "20000 afiliados" (no separator)."""
    from django.template.loader import render_to_string

    with translation.override("pt-br"):
        html = render_to_string("crm/_segment_preview.html", {"count": 20000, "sample": [], "errors": []})
        one = render_to_string("crm/_segment_preview.html", {"count": 1, "sample": [], "errors": []})
    assert "<strong>20.000</strong> afiliados" in html
    assert 'data-count="20000"' in html
    assert "<strong>1</strong> afiliado<" in one
