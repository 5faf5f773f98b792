"""The dashboard pages, their CSV downloads, the spend import and the shared space's
side-by-side view (aggregates only)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django_tenants.utils import tenant_context

from insights.models import Spend
from insights.services.rollups import rollups_rebuild
from insights.tests.helpers import affiliate, at, event


@pytest.fixture
def base(udn_a):
    with tenant_context(udn_a):
        ana = affiliate(name="Ana Secreta", origin="site", plan="Ouro")
        event(ana, "account_opened", at(3, 2, 9))
        event(ana, "app_downloaded", at(3, 2, 11))
        event(ana, "app_activated", at(3, 3, 9))
        event(ana, "cash_in", at(3, 4, 9), "1234.56", utm_source="google")
        rollups_rebuild()
    return udn_a


PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.mark.parametrize("page", ["time", "volume", "cohorts", "deposits", "attribution", "channels"])
def test_every_page_opens_for_a_member(base, marketer, client_for, page):
    response = client_for(base, marketer).get(f"/insights/{page}/", PERIOD)
    assert response.status_code == 200
    assert b"chart.umd.min.js" in response.content


def test_the_time_page_shows_pt_br_figures(base, marketer, client_for):
    html = client_for(base, marketer).get("/insights/time/", PERIOD).content.decode()
    # Opened 02/03 09:00 → downloaded 11:00: 2 h, in the bucket [2 h, 3 h): "até 3 h".
    assert "até 3 h" in html
    assert "100,0%" in html  # within 24 h


def test_deposits_page_formats_money_the_brazilian_way(base, marketer, client_for):
    html = client_for(base, marketer).get("/insights/deposits/", PERIOD).content.decode()
    assert "R$\u00a01.234,56" in html
    assert "03/2026" in html


def test_csv_download_uses_the_data_hub_conventions(base, marketer, client_for):
    response = client_for(base, marketer).get("/insights/deposits/", {**PERIOD, "csv": "deposits_by_month"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["Mês", "Depósitos", "Valor"]
    assert rows[1][:3] == ["01/03/2026", "1", "1234,56"]


def test_an_unknown_csv_table_is_a_404(base, marketer, client_for):
    assert client_for(base, marketer).get("/insights/time/", {"csv": "nope"}).status_code == 404


def test_an_outsider_cannot_open_another_udns_dashboards(base, outsider, client_for):
    response = client_for(base, outsider).get("/insights/time/")
    assert response.status_code in (302, 403, 404)


def test_spend_import_upserts_rows_and_keeps_bad_ones_with_reasons(base, marketer, client_for):
    body = "dia;fonte;campanha;valor\n01/03/2026;google;verao;1.000,50\n02/03/2026;meta;;200\nxx;meta;;1\n"
    upload = io.BytesIO(body.encode("cp1252"))
    upload.name = "gastos.csv"
    response = client_for(base, marketer).post("/insights/attribution/spend/", {"file": upload}, follow=True)
    assert response.status_code == 200
    with tenant_context(base):
        assert sorted(Spend.objects.values_list("day", "source", "amount")) == [
            (date(2026, 3, 1), "google", __import__("decimal").Decimal("1000.50")),
            (date(2026, 3, 2), "meta", __import__("decimal").Decimal("200.00")),
        ]
    assert "Linha 4" in response.content.decode()


def test_an_analyst_cannot_import_spend(base, analyst, client_for):
    upload = io.BytesIO(b"dia;fonte;valor\n01/03/2026;google;10\n")
    upload.name = "gastos.csv"
    assert client_for(base, analyst).post("/insights/attribution/spend/", {"file": upload}).status_code == 403


def test_the_shared_space_shows_each_udn_side_by_side_aggregates_only(base, coordinator, client_for):
    response = client_for(None, coordinator).get("/insights/", PERIOD)
    html = response.content.decode()
    assert response.status_code == 200
    assert "UDN Alpha" in html and "UDN Beta" in html
    assert "Ana Secreta" not in html  # no affiliate leaves its UDN
    assert "R$\u00a01.234,56" in html
    csv_text = client_for(None, coordinator).get("/insights/", {**PERIOD, "csv": "1"}).content.decode()
    assert "UDN Alpha" in csv_text and "Ana Secreta" not in csv_text


def test_a_udn_member_sees_only_their_udns_in_the_shared_view(base, outsider, client_for):
    html = client_for(None, outsider).get("/insights/", PERIOD).content.decode()
    assert "UDN Beta" in html
    assert "UDN Alpha" not in html


def test_the_origin_filter_offers_an_origin_as_soon_as_a_refresh_brings_it(base, marketer, client_for):
    """The filters' options are cached between rollup writes, and each write forgets them."""
    from insights.services.rollups import rollups_refresh_days

    client = client_for(base, marketer)
    assert 'value="whatsapp"' not in client.get("/insights/time/", PERIOD).content.decode()
    with tenant_context(base):
        bia = affiliate(name="Bia", origin="whatsapp", plan="Prata")
        event(bia, "lead_created", at(3, 5, 9))
        rollups_refresh_days(days=[date(2026, 3, 5)])
    html = client.get("/insights/time/", PERIOD).content.decode()
    assert 'value="whatsapp"' in html and 'value="Prata"' in html


def test_the_pages_show_origins_milestones_by_their_pt_br_labels(base, marketer, client_for):
    client = client_for(base, marketer)
    time_html = client.get("/insights/time/", PERIOD).content.decode()
    # The origin filter's option and the by-origin table: "Site" (the label), not the code.
    assert '<option value="site">Site</option>' in time_html
    assert '<td class="">Site</td>' in time_html and '<td class="">site</td>' not in time_html
    volume_html = client.get("/insights/volume/", PERIOD).content.decode()
    assert "App ativado com cash in" in volume_html and "App baixado" in volume_html
    assert "activated_cash_in" not in volume_html and "app_downloaded" not in volume_html
    rows = list(
        csv.reader(
            io.StringIO(
                client.get("/insights/volume/", {**PERIOD, "csv": "funnel"}).content.decode().lstrip("\ufeff")
            ),
            delimiter=";",
        )
    )
    assert [row[0] for row in rows[1:]][:3] == ["Lead", "Cadastrado", "App baixado"]


def test_the_attribution_page_says_where_sources_come_from(base, marketer, client_for):
    html = client_for(base, marketer).get("/insights/attribution/", PERIOD).content.decode()
    assert "(sem origem): nenhum evento com utm_source" in html
