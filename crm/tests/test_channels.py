"""The channel registry (crm/channels.py): every consumer takes its channels from it, so a new
channel (Telegram, the newest) is one registry entry plus its migration."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from django.core.management import call_command
from django.db import models
from django.utils import translation
from django_tenants.utils import tenant_context

from crm.api.serializers import AffiliateSerializer
from crm.channels import CHANNEL_CODES, CHANNELS, CONSENT_FIELDS, channel_get
from crm.demo import base as demo
from crm.forms import AffiliateFilterForm
from crm.models import Affiliate, Channel, ConsentChange, QualitySnapshot
from crm.selectors.affiliates import EXPORT_COLUMNS, LIST_COLUMNS
from crm.selectors.quality import CONSENT_CHANNELS, quality_figures
from crm.services.consent import consent_change
from crm.services.lake import AFFILIATE_SCHEMA, lake_export_run
from crm.tests.factories import AffiliateFactory
from crm.tests.helpers import Api, make_key

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_every_consumer_lists_every_channel_of_the_registry_in_its_order():
    fields = [channel.consent_field for channel in CHANNELS]
    sprite = (ROOT / "static" / "icons" / "sprite.svg").read_text()
    lake_doc = (ROOT / "docs" / "lake.md").read_text()

    assert "telegram" in CHANNEL_CODES
    assert list(CONSENT_FIELDS.values()) == fields
    for channel in CHANNELS:
        field = Affiliate._meta.get_field(channel.consent_field)
        assert isinstance(field, models.BooleanField) and field.default is False
        assert field.verbose_name == channel.consent_label
        if channel.address_field is not None:
            Affiliate._meta.get_field(channel.address_field)  # FieldDoesNotExist if missing
        assert f'<symbol id="{channel.icon}"' in sprite
        assert f"| `{channel.consent_field}` | `bool` | no |" in lake_doc
    assert Channel.values == list(CHANNEL_CODES)
    assert [value for value, _label in ConsentChange._meta.get_field("channel").choices] == list(
        CHANNEL_CODES
    )
    assert [value for value, _label in AffiliateFilterForm().fields["consent"].choices] == list(CHANNEL_CODES)
    assert CONSENT_CHANNELS == CHANNEL_CODES
    for columns in (
        AFFILIATE_SCHEMA.names,
        AffiliateSerializer.Meta.fields,
        LIST_COLUMNS,
        EXPORT_COLUMNS,
        demo.AFFILIATE_COLUMNS.split(", "),
    ):
        assert [name for name in columns if name.startswith("consent_")] == fields


def test_the_migrations_hold_every_channel(db):
    """Models and migrations agree (the registry's fields and choices are migrated)."""
    call_command("makemigrations", "crm", check=True, dry_run=True, verbosity=0)


def test_a_channel_reads_in_portuguese():
    with translation.override("pt-br"):
        assert str(channel_get("telegram").label) == "Telegram"
        assert str(channel_get("telegram").consent_label) == "Consentimento de Telegram"
        assert str(Affiliate._meta.get_field("telegram_chat_id").verbose_name) == "ID do chat no Telegram"


@pytest.fixture
def telegram_fan(udn_a, time_machine) -> Affiliate:
    """An affiliate who granted Telegram (and nothing else), beside one who granted nothing."""
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        AffiliateFactory(bare=True, external_id="T-0", name="Bruno Sem Canal")
        fan = AffiliateFactory(
            bare=True, external_id="T-1", name="Tânia Telegram", telegram_chat_id="987654321"
        )
        consent_change(
            affiliate=fan,
            channel="telegram",
            granted=True,
            source="bot",
            proof="/start no bot",
            occurred_at=T0,
        )
        return fan


def test_telegram_consent_goes_to_the_ledger_and_the_affiliate(udn_a, telegram_fan):
    with tenant_context(udn_a):
        telegram_fan.refresh_from_db()
        entry = ConsentChange.objects.get(affiliate=telegram_fan)
        assert (entry.channel, entry.granted, entry.source) == ("telegram", True, "bot")
        assert telegram_fan.consent_telegram is True
        assert Affiliate.objects.get(external_id="T-0").telegram_chat_id == ""  # blank by default


def test_the_list_filters_and_shows_telegram_consent(udn_a, telegram_fan, marketer, client_for):
    client = client_for(udn_a, marketer)

    html = client.get("/affiliates/", {"consent": "telegram"}).content.decode()
    profile = client.get(f"/affiliates/{telegram_fan.pk}/").content.decode()

    assert re.findall(r'data-testid="affiliate-row" data-pk="(\d+)"', html) == [str(telegram_fan.pk)]
    assert 'data-consent="telegram" data-granted="1"' in html
    assert 'href="/static/icons/sprite.svg#send"' in html
    assert re.search(r'data-consent="telegram" data-granted="1">\s*<span class="badge ok">', profile)


def test_the_export_has_a_telegram_consent_column(udn_a, telegram_fan, marketer, client_for):
    response = client_for(udn_a, marketer).get("/affiliates/export.csv", {"consent": "telegram"})

    body = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert "Consentimento de Telegram" in header
    assert [row[header.index("Consentimento de Telegram")] for row in rows] == ["sim"]


def test_the_api_shows_and_records_telegram_consent(udn_a, telegram_fan):
    api = Api(udn_a, make_key(udn_a, ["affiliates:read", "affiliates:write"]))

    shown = api.get(f"/api/v1/affiliates/{telegram_fan.pk}/").json()
    with tenant_context(udn_a):
        other = Affiliate.objects.get(external_id="T-0")
    recorded = api.post(
        f"/api/v1/affiliates/{other.pk}/consent/",
        {"channel": "telegram", "granted": True, "source": "bot", "occurred_at": "2026-03-10T12:00:00-03:00"},
    )

    assert (shown["consent_telegram"], shown["telegram_chat_id"]) == (True, "987654321")
    assert recorded.status_code == 201, recorded.content
    assert recorded.json()["consent"] == {code: code == "telegram" for code in CHANNEL_CODES}


def test_quality_and_the_lake_count_telegram(udn_a, telegram_fan, tmp_path, time_machine):
    with tenant_context(udn_a):
        figures = quality_figures()
        time_machine.shift(60)
        lake_export_run(destination=str(tmp_path))

    rows = ds.dataset(tmp_path / "affiliates", format="parquet", partitioning="hive").to_table().to_pylist()
    assert figures["consent"]["telegram"] == 50.0
    assert {row["external_id"]: row["consent_telegram"] for row in rows} == {"T-0": False, "T-1": True}


def test_a_snapshot_from_before_a_channel_existed_still_shows(udn_a, analyst, client_for, time_machine):
    """Figures stored before Telegram joined have no Telegram figure: the page lists the others."""
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        AffiliateFactory(bare=True, external_id="Q-1", name="Quita Antiga")
        figures = quality_figures()
        del figures["consent"]["telegram"]
        QualitySnapshot.objects.create(day=T0.date(), figures=figures)

    html = client_for(udn_a, analyst).get("/quality/").content.decode()

    consent = html.split('data-testid="quality-consent"', 1)[1].split("</table>", 1)[0]
    assert 'data-field="email"' in consent and 'data-field="telegram"' not in consent
