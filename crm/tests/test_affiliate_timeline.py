"""The affiliate page's timeline: events interleaved with the changes to the affiliate's data (an
import's, linked to it; the API's) and the affiliate's creation, with a bounded number of queries."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Affiliate, AffiliateChange, AuditEntry, Event, ImportJob, Stage
from crm.services.imports import affiliates_import, first_load, import_job_create
from crm.tests.factories import AffiliateFactory
from crm.tests.helpers import Api, make_key
from tenants.models import UDN
from tenants.tests.factories import make_user

HEADER = "codigo,nome,cpf,email,cidade\n"


@pytest.fixture
def joana(udn_a) -> Affiliate:
    with tenant_context(udn_a):
        return AffiliateFactory(
            bare=True,
            external_id="A-100",
            name="Joana Conceição da Silva",
            cpf="12345678909",
            email="joana.silva@exemplo.com.br",
            city="São Paulo",
            stage=Stage.LEAD,
        )


def import_file(udn: UDN, path: Path) -> ImportJob:
    with tenant_context(udn):
        return affiliates_import(job=import_job_create(path=path))


def kinds(html: str) -> list[str]:
    return re.findall(r'data-testid="timeline-entry" data-kind="(\w+)"', html)


def entries(html: str) -> list[str]:
    """The timeline's entries, each its whole <li> (their own lists' items end mid-line)."""
    return re.findall(r'<li class="timeline-item.*?\n</li>', html, re.DOTALL)


def page_of(client, affiliate: Affiliate) -> str:
    response = client.get(f"/affiliates/{affiliate.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_an_import_that_changes_an_affiliate_shows_on_its_timeline_linked_to_the_import(
    udn_a, joana, marketer, analyst, client_for, tmp_path
):
    with tenant_context(udn_a):
        for event_id, kind, at in [
            ("old", "lead_created", datetime(2020, 1, 10, 12, 0, tzinfo=UTC)),
            ("new", "cash_in", timezone.now() + timedelta(days=30)),
        ]:
            Event.objects.create(event_id=event_id, affiliate=joana, type=kind, occurred_at=at)
    path = tmp_path / "base.csv"
    path.write_text(HEADER + "A-100,Joana Conceição da Silva,52998224725,joana.nova@exemplo.com.br,\n")

    job = import_file(udn_a, path)

    html = page_of(client_for(udn_a, marketer), joana)
    # Interleaved by time: the future event, the import's change, the old event.
    assert kinds(html) == ["event", "change", "event"]
    assert re.findall(r'data-event-id="(\w+)"', html) == ["new", "old"]
    change = entries(html)[1]
    assert "Dados atualizados pela importação" in change
    assert f'<a href="/imports/{job.pk}/" data-testid="change-import">«base.csv»</a>' in change
    assert f'data-import-id="{job.pk}"' in html
    fields = re.findall(
        r'<span class="muted">([^<]+):</span> <span data-testid="change-old">([^<]+)</span> → '
        r'<span data-testid="change-new">([^<]+)</span>',
        change,
    )
    assert sorted(fields) == [
        ("CPF", "123.456.789-09", "529.982.247-25"),  # a marketer sees CPFs in full
        ("E-mail", "joana.silva@exemplo.com.br", "joana.nova@exemplo.com.br"),
    ]  # the blank city erased nothing and is no change
    assert "3 registros" in html

    seen_by_analyst = page_of(client_for(udn_a, analyst), joana)
    assert "***.456.789-**" in seen_by_analyst and "***.982.247-**" in seen_by_analyst
    assert "529.982.247-25" not in seen_by_analyst and "52998224725" not in seen_by_analyst


def test_an_affiliate_an_import_created_shows_that_import_as_its_origin(
    udn_a, joana, marketer, client_for, tmp_path
):
    path = tmp_path / "novos.csv"
    path.write_text(HEADER + "B-200,Bruno Alves,39825979194,bruno@exemplo.com.br,Santos\n")

    job = import_file(udn_a, path)

    with tenant_context(udn_a):
        bruno = Affiliate.objects.get(external_id="B-200")
        creation = AffiliateChange.objects.get(affiliate=bruno)
        assert (creation.changes, creation.import_job_id, creation.source) == ({}, job.pk, "import")
        assert not AffiliateChange.objects.filter(affiliate=joana).exists()  # not in the file
    html = page_of(client_for(udn_a, marketer), bruno)
    assert kinds(html) == ["change"]
    assert 'data-created="1"' in html and "Criado pela importação" in html
    assert f'<a href="/imports/{job.pk}/" data-testid="change-import">«novos.csv»</a>' in html
    assert "primeira importação" not in html


def test_changes_through_the_api_show_as_the_apis(udn_a, marketer, client_for):
    api = Api(udn_a, make_key(udn_a, ["affiliates:read", "affiliates:write"]))
    created = api.post(
        "/api/v1/affiliates/",
        {"external_id": "C-9", "name": "Carla Dias", "city": "Recife", "phone": "+5581998765432"},
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    changed = api.client.patch(
        f"/api/v1/affiliates/{pk}/",
        json.dumps({"city": "Olinda", "phone": "+5581987654321"}),
        content_type="application/json",
        **api.headers,
    )
    assert changed.status_code == 200, changed.content

    with tenant_context(udn_a):
        carla = Affiliate.objects.get(pk=pk)
        source = AffiliateChange.objects.filter(affiliate=carla).values_list("source", flat=True)[0]
    assert source.startswith("api:")
    html = page_of(client_for(udn_a, marketer), carla)
    assert kinds(html) == ["change", "change"]
    assert "Dados atualizados pela API" in html and "Criado pela API" in html
    assert html.count(f"· {source}") == 2  # which key did it
    assert 'Cidade:</span> <span data-testid="change-old">Recife</span>' in html
    assert '(81) 99876-5432</span> → <span data-testid="change-new">(81) 98765-4321' in html
    assert "/imports/" not in html.split('data-testid="timeline"')[1]


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        ImportJob.objects.all().delete()
        Affiliate.objects.all().delete()
        AuditEntry.objects.all().delete()


@pytest.mark.parametrize(
    "initial_load_min_rows",
    [1, 50_000],  # the first load (COPY), and the general way into an empty base (a small file)
)
def test_the_first_import_of_a_base_writes_no_row_per_affiliate_and_the_page_names_it(
    committed, client_for, tmp_path, monkeypatch, initial_load_min_rows
):
    """Committed: the affiliates get their creation time from the import's own transaction, which
    must fall inside the job's run as it does outside a test's transaction."""
    alpha = UDN.objects.get(slug="alpha")
    reader = make_user("linha.tempo@alpha.test", udn=alpha)
    committed.append(reader.delete)
    committed.append(lambda: _clean(alpha))
    monkeypatch.setattr(first_load, "INITIAL_LOAD_MIN_ROWS", initial_load_min_rows)
    path = tmp_path / "primeira_base.csv"
    path.write_text(
        HEADER
        + "P-1,Paula Souza,39825979194,paula@exemplo.com.br,Natal\n"
        + "P-2,Pedro Lima,52998224725,pedro@exemplo.com.br,Natal\n"
    )

    first = import_file(alpha, path)

    with tenant_context(alpha):
        assert first.created == 2 and not AffiliateChange.objects.exists()
        paula = Affiliate.objects.get(external_id="P-1")
        Event.objects.create(
            event_id="p-cash", affiliate=paula, type="cash_in", amount=Decimal(10), occurred_at=timezone.now()
        )
    client = client_for(alpha, reader)
    html = page_of(client, paula)
    assert kinds(html) == ["event", "origin"]
    assert "Criado pela primeira importação da base" in html
    assert f'<a href="/imports/{first.pk}/" data-testid="change-import">«primeira_base.csv»</a>' in html

    # A later import's change joins the timeline; the origin stays.
    later = tmp_path / "atualiza.csv"
    later.write_text(HEADER + "P-1,Paula Souza,39825979194,paula.nova@exemplo.com.br,\n")
    second = import_file(alpha, later)
    html = page_of(client, paula)
    assert kinds(html) == ["change", "event", "origin"]
    assert f'href="/imports/{second.pk}/"' in html and f'href="/imports/{first.pk}/"' in html


def test_the_timeline_pages_events_and_changes_together_with_bounded_queries(
    udn_a, joana, marketer, client_for, django_assert_num_queries
):
    def add(count: int, offset: int) -> None:
        with tenant_context(udn_a):
            Event.objects.bulk_create(
                Event(
                    event_id=f"ev-{offset + i:03}",
                    affiliate=joana,
                    type="cashback",
                    occurred_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=2 * (offset + i)),
                )
                for i in range(count)
            )
            changes = AffiliateChange.objects.bulk_create(
                AffiliateChange(affiliate=joana, changes={"city": [f"c{i}", f"c{i + 1}"]}, source="api:k")
                for i in range(offset, offset + count)
            )
            for i, change in zip(range(offset, offset + count), changes, strict=True):  # odd hours
                at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=2 * i + 1)
                AffiliateChange.objects.filter(pk=change.pk).update(changed_at=at)

    client = client_for(udn_a, marketer)
    client.get(f"/affiliates/{joana.pk}/")  # warm the host → UDN routing cache
    add(2, 0)  # (leaving the UDN's schema, as add(28, 2) does: the request sets it again)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/affiliates/{joana.pk}/")
    add(28, 2)  # 60 entries: more than a page

    with django_assert_num_queries(len(few.captured_queries)):  # whatever the number of entries
        html = page_of(client, joana)
    assert kinds(html) == ["change", "event"] * 25
    assert "60 registros" in html and 'id="timeline-more"' in html
    # The session, the person, their memberships (2), the affiliate, the UDN (menus; its domains are
    # no longer read), the custom kinds, and the timeline's five: its origin, count, page, events and
    # changes.
    with django_assert_num_queries(12):
        more = client.get(
            f"/affiliates/{joana.pk}/?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-more"
        ).content.decode()
    assert kinds(more) == ["change", "event"] * 5
    assert re.findall(r'data-event-id="([^"]+)"', more) == ["ev-004", "ev-003", "ev-002", "ev-001", "ev-000"]
    assert 'id="timeline-more"' not in more
