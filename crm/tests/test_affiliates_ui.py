"""The affiliate list (search, filters, sorting, pages, CSV export) and the affiliate page."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from crm.models import Affiliate, ConsentChange, DepositTier, Event, EventKind, Stage
from crm.selectors.affiliates import (
    EXPORT_COLUMNS,
    AffiliateFilters,
    affiliate_search,
    affiliate_tier_progress,
    fold_text,
)
from crm.tests.factories import AffiliateFactory
from tenants.models import Role
from tenants.services import membership_grant
from tenants.tests.factories import make_user


def make_affiliate(**fields) -> Affiliate:
    """An affiliate with a Brazilian name and only the other fields given: no stray filter match."""
    return AffiliateFactory(bare=True, **fields)


def names(params: AffiliateFilters) -> list[str]:
    return list(affiliate_search(params=params).values_list("name", flat=True))


def row_pks(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-testid="affiliate-row" data-pk="(\d+)"', html)]


def result_count(html: str) -> int:
    return int(re.search(r'data-testid="result-count" data-count="(\d+)"', html).group(1))  # type: ignore[union-attr]


def export_rows(response) -> tuple[str, list[list[str]]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return body, list(csv.reader(io.StringIO(body.removeprefix("\ufeff")), delimiter=";"))


@pytest.fixture
def joana(udn_a) -> Affiliate:
    with tenant_context(udn_a):
        return make_affiliate(
            external_id="A-100",
            name="Joana Conceição da Silva",
            cpf="12345678909",
            email="Joana.Silva@Exemplo.com.br",
            phone="+5511987654321",
            state="SP",
            city="São Paulo",
            origin="store",
            stage=Stage.CASH_IN,
            tier="Prata",
            total_cash_in=Decimal("1234.56"),
            tags=["vip", "sp"],
            consent_email=True,
            consent_whatsapp=True,
            attributes={"convenio": "Empresa X"},
        )


@pytest.fixture
def member_of_both(udn_a, udn_b):
    user = make_user("dupla.udn@test.br", udn=udn_a)
    membership_grant(user=user, udn=udn_b, role=Role.MARKETER)
    return user


# --- search ---------------------------------------------------------------------------------------


def test_search_finds_names_ignoring_case_and_accents(udn_a, joana):
    with tenant_context(udn_a):
        make_affiliate(name="João Pereira")
        assert names(AffiliateFilters(q="joana conceicao")) == ["Joana Conceição da Silva"]
        assert names(AffiliateFilters(q="JOAO")) == ["João Pereira"]
        assert names(AffiliateFilters(q="silva joana")) == ["Joana Conceição da Silva"]  # words in any order
        assert names(AffiliateFilters(q="Conceição Souza")) == []


def test_search_finds_cpf_typed_with_or_without_punctuation(udn_a, joana):
    with tenant_context(udn_a):
        make_affiliate(cpf="98765432100")
        assert names(AffiliateFilters(q="123.456.789-09")) == [joana.name]
        assert names(AffiliateFilters(q="12345678909")) == [joana.name]
        assert names(AffiliateFilters(q="456.789")) == [joana.name]


def test_search_finds_phone_typed_in_any_format(udn_a, joana):
    with tenant_context(udn_a):
        make_affiliate(phone="+5521912345678")
        for typed in (
            "(11) 98765-4321",
            "11 98765 4321",
            "+55 11 98765-4321",
            "98765-4321",
            "011 98765-4321",
        ):
            assert names(AffiliateFilters(q=typed)) == [joana.name], typed


def test_search_finds_email_by_any_part_in_any_case(udn_a, joana):
    with tenant_context(udn_a):
        make_affiliate(email="outra@exemplo.com.br", name="Outra Pessoa")
        assert names(AffiliateFilters(q="joana.silva@exemplo")) == [joana.name]
        assert names(AffiliateFilters(q="EXEMPLO.COM")) == sorted([joana.name, "Outra Pessoa"])


def test_search_finds_the_udns_code_in_any_case_whole_or_in_part(udn_a, joana):
    with tenant_context(udn_a):
        make_affiliate(external_id="B-200", name="Outra Pessoa")
        for typed in ("A-100", "a-100", " A-100 ", "-100", "a-10"):
            assert names(AffiliateFilters(q=typed)) == [joana.name], typed
        assert names(AffiliateFilters(q="-10")) == []  # too short for a part: only a whole code


def test_short_digit_runs_are_not_matched_against_cpf_or_phone(udn_a, joana):
    with tenant_context(udn_a):
        assert names(AffiliateFilters(q="123")) == []


def test_folding_in_python_matches_the_sql_folding(udn_a):
    with tenant_context(udn_a):
        make_affiliate(name="ÁÉÍÓÚ ÂÊÔ ÃÕ Ç àèìòù Ñ")
        assert fold_text("ÁÉÍÓÚ ÂÊÔ ÃÕ Ç àèìòù Ñ") == "aeiou aeo ao c aeiou n"
        assert len(names(AffiliateFilters(q="aeiou aeo ao c aeiou n"))) == 1


# --- filters --------------------------------------------------------------------------------------


@pytest.fixture
def base(udn_a):
    with tenant_context(udn_a):
        return {
            "ana": make_affiliate(
                name="Ana",
                stage=Stage.LEAD,
                tier="",
                origin="site",
                tags=["vip"],
                state="SP",
                consent_sms=True,
            ),
            "bia": make_affiliate(
                name="Bia",
                stage=Stage.ACTIVATED,
                tier="Bronze",
                origin="store",
                tags=["vip", "rj"],
                state="RJ",
                consent_email=True,
                consent_push=True,
            ),
            "caio": make_affiliate(
                name="Caio",
                stage=Stage.CASH_IN,
                tier="Ouro",
                origin="store",
                tags=[],
                state="SP",
                consent_email=True,
                consent_whatsapp=True,
            ),
        }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (AffiliateFilters(stages=("lead", "cash_in")), ["Ana", "Caio"]),
        (AffiliateFilters(tier="Bronze"), ["Bia"]),
        (AffiliateFilters(origin="store"), ["Bia", "Caio"]),
        (AffiliateFilters(tag="vip"), ["Ana", "Bia"]),
        (AffiliateFilters(tag="rj"), ["Bia"]),
        (AffiliateFilters(consent=("email",)), ["Bia", "Caio"]),
        (AffiliateFilters(consent=("email", "whatsapp")), ["Caio"]),
        (AffiliateFilters(consent=("sms",)), ["Ana"]),
        (AffiliateFilters(consent=("push",)), ["Bia"]),
        (AffiliateFilters(state="sp"), ["Ana", "Caio"]),
        (AffiliateFilters(origin="store", state="SP"), ["Caio"]),
        (AffiliateFilters(), ["Ana", "Bia", "Caio"]),
    ],
)
def test_each_filter_narrows_the_base(udn_a, base, params, expected):
    with tenant_context(udn_a):
        assert names(params) == expected


def test_filters_in_the_url_reach_the_list(udn_a, base, marketer, client_for):
    html = client_for(udn_a, marketer).get("/affiliates/?stage=cash_in&stage=lead&state=SP").content.decode()

    assert result_count(html) == 2
    assert row_pks(html) == [base["ana"].pk, base["caio"].pk]


def test_a_bad_filter_value_is_an_error_on_the_form_and_lists_no_affiliate(udn_a, base, marketer, client_for):
    client = client_for(udn_a, marketer)

    html = client.get("/affiliates/?stage=nope&tier=Diamante&state=XX&consent=fax").content.decode()

    errors = html.split('data-testid="filter-errors"')[1].split("</div>")[0]
    assert "Estágio: Valor desconhecido “nope”: escolha um da lista." in errors
    assert "Nível de depósito: Valor desconhecido “Diamante”" in errors
    assert "UF: Valor desconhecido “XX”" in errors
    assert "“fax”" in errors
    assert row_pks(html) == [] and 'data-testid="result-count"' not in html
    assert 'data-testid="filters-invalid"' in html and 'data-testid="export-csv"' not in html
    # A bad page number is no filter: the list shows its first page.
    assert result_count(client.get("/affiliates/?page=abc").content.decode()) == 3


def test_an_over_long_search_is_an_error_not_the_whole_base(udn_a, base, marketer, client_for):
    html = client_for(udn_a, marketer).get("/affiliates/?q=" + "a" * 201).content.decode()

    assert "Buscar: A busca aceita no máximo 200 caracteres (esta tem 201)." in html
    assert row_pks(html) == []


def test_the_results_fragment_brings_the_form_errors_with_it(udn_a, base, marketer, client_for):
    client = client_for(udn_a, marketer)
    fragment = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "affiliate-results"}

    bad = client.get("/affiliates/?stage=nope", **fragment).content.decode()
    good = client.get("/affiliates/?stage=lead", **fragment).content.decode()

    assert '<div id="affiliate-filter-errors" data-testid="filter-errors" hx-swap-oob="true">' in bad
    assert "Valor desconhecido “nope”" in bad and row_pks(bad) == []
    # A valid request empties the errors shown before, out of band too.
    assert 'data-testid="filter-errors" hx-swap-oob="true"></div>' in good
    assert row_pks(good) == [base["ana"].pk]


def test_an_export_with_a_bad_filter_value_exports_nothing(udn_a, base, marketer, client_for):
    client = client_for(udn_a, marketer)

    for url in ("/affiliates/export.csv?state=XX", "/affiliates/export.xlsx?state=XX"):
        response = client.get(url)
        assert response.status_code == 400
        assert response.content.decode().startswith("Nada foi exportado: corrija os filtros.\nUF: ")


# --- sorting --------------------------------------------------------------------------------------


def test_sorting_by_each_whitelisted_key_both_ways(udn_a):
    with tenant_context(udn_a):
        first = make_affiliate(name="Bruno", stage=Stage.CASHOUT, total_cash_in=Decimal("10"))
        second = make_affiliate(name="Alice", stage=Stage.REGISTERED, total_cash_in=Decimal("300"))
        third = make_affiliate(name="Carla", stage=Stage.LEAD, total_cash_in=Decimal("20"))
        Affiliate.objects.filter(pk=first.pk).update(updated_at=datetime(2025, 1, 3, tzinfo=UTC))
        Affiliate.objects.filter(pk=second.pk).update(updated_at=datetime(2025, 1, 1, tzinfo=UTC))
        Affiliate.objects.filter(pk=third.pk).update(updated_at=datetime(2025, 1, 2, tzinfo=UTC))

        assert names(AffiliateFilters(sort="name")) == ["Alice", "Bruno", "Carla"]
        assert names(AffiliateFilters(sort="-name")) == ["Carla", "Bruno", "Alice"]
        assert names(AffiliateFilters(sort="created_at")) == ["Bruno", "Alice", "Carla"]
        assert names(AffiliateFilters(sort="-created_at")) == ["Carla", "Alice", "Bruno"]
        assert names(AffiliateFilters(sort="updated_at")) == ["Alice", "Carla", "Bruno"]
        assert names(AffiliateFilters(sort="-updated_at")) == ["Bruno", "Carla", "Alice"]
        # Stage sorts in funnel order, not alphabetically.
        assert names(AffiliateFilters(sort="stage")) == ["Carla", "Alice", "Bruno"]
        assert names(AffiliateFilters(sort="-stage")) == ["Bruno", "Alice", "Carla"]
        assert names(AffiliateFilters(sort="total_cash_in")) == ["Bruno", "Carla", "Alice"]
        assert names(AffiliateFilters(sort="-total_cash_in")) == ["Alice", "Carla", "Bruno"]


def test_names_sort_the_brazilian_way_accents_and_case_beside_their_plain_letters(udn_a):
    with tenant_context(udn_a):
        for name in ["Zé", "Élio", "bruno", "Álvaro", "Elio", "Eliana", "Bruno", "Çarla", "Caio"]:
            make_affiliate(name=name)

        expected = ["Álvaro", "Bruno", "bruno", "Caio", "Çarla", "Eliana", "Elio", "Élio", "Zé"]
        assert names(AffiliateFilters(sort="name")) == expected
        assert names(AffiliateFilters(sort="-name")) == expected[::-1]


@pytest.mark.parametrize("sort", ["name", "-name"])
def test_the_name_sort_reads_an_index_not_the_whole_base(udn_a, sort):
    with tenant_context(udn_a):
        make_affiliate(name="Ana")
        with connection.cursor() as cursor:
            # A handful of rows: make the planner show whether the index serves this order at all.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            first_page = affiliate_search(params=AffiliateFilters(sort=sort))[:50]
            sql, sql_params = first_page.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", sql_params)
            plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "affiliate_name_sort_idx" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.parametrize(
    "sort", ["cpf", "-password", "name; DROP TABLE crm_affiliate", "tier_color", "--name", ""]
)
def test_an_unknown_sort_key_falls_back_to_name(udn_a, marketer, client_for, sort):
    with tenant_context(udn_a):
        make_affiliate(name="Zeca", cpf="11144477735")
        make_affiliate(name="Abel", cpf="99999999999")
        assert names(AffiliateFilters(sort=sort)) == ["Abel", "Zeca"]

    response = client_for(udn_a, marketer).get("/affiliates/", {"sort": sort})

    assert response.status_code == 200
    assert 'option value="name" selected' in response.content.decode()


def test_sort_headers_keep_the_filters(udn_a, base, marketer, client_for):
    html = client_for(udn_a, marketer).get("/affiliates/?tag=vip&sort=name").content.decode()

    header = re.search(r'<a href="([^"]+)"[^>]*data-sort="name"', html).group(1)  # type: ignore[union-attr]
    assert "tag=vip" in header and "sort=-name" in header
    sorted_html = (
        client_for(udn_a, marketer).get("/affiliates/" + header.replace("&amp;", "&")).content.decode()
    )
    assert row_pks(sorted_html) == [base["bia"].pk, base["ana"].pk]


# --- pages ----------------------------------------------------------------------------------------


def test_pages_hold_fifty_rows_and_page_links_keep_the_filters(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        Affiliate.objects.bulk_create(
            [Affiliate(external_id=f"V-{i:03}", name=f"Vip {i:03}", tags=["vip"]) for i in range(60)]
            + [Affiliate(external_id=f"O-{i}", name=f"Outro {i}") for i in range(5)]
        )
    client = client_for(udn_a, marketer)

    first = client.get("/affiliates/?tag=vip&sort=-name").content.decode()
    assert result_count(first) == 60
    assert len(row_pks(first)) == 50
    next_link = re.search(r'<a href="([^"]+)"[^>]*data-testid="next-page"', first).group(1)  # type: ignore[union-attr]
    next_link = next_link.replace("&amp;", "&")
    assert "tag=vip" in next_link and "sort=-name" in next_link and "page=2" in next_link

    second = client.get("/affiliates/" + next_link).content.decode()
    with tenant_context(udn_a):
        expected = list(
            Affiliate.objects.filter(tags__contains=["vip"]).order_by("-name").values_list("pk", flat=True)
        )
    assert row_pks(second) == expected[50:]


def test_htmx_requests_get_only_the_results(udn_a, base, marketer, client_for):
    response = client_for(udn_a, marketer).get(
        "/affiliates/?q=bia", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="affiliate-results"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="affiliate-results"')
    assert "<html" not in html
    assert row_pks(html) == [base["bia"].pk]
    assert "HX-Request" in response["Vary"]


def test_the_list_without_htmx_is_a_whole_page_with_the_filter_form(udn_a, base, marketer, client_for):
    html = client_for(udn_a, marketer).get("/affiliates/?q=bia").content.decode()

    assert "<html" in html
    assert 'id="affiliate-filters"' in html and 'method="get"' in html
    assert 'value="bia"' in html  # the search box keeps what was typed


def test_list_query_count_does_not_grow_with_the_base(
    udn_a, marketer, client_for, django_assert_max_num_queries
):
    with tenant_context(udn_a):
        Affiliate.objects.bulk_create(
            Affiliate(external_id=f"Q-{i}", name=f"Q {i}", tier="Ouro", cpf=f"{i:011}") for i in range(5)
        )
    client = client_for(udn_a, marketer)
    client.get("/affiliates/")  # warm the host → UDN routing cache

    with CaptureQueriesContext(connection) as few:
        assert result_count(client.get("/affiliates/").content.decode()) == 5
    with tenant_context(udn_a):
        Affiliate.objects.bulk_create(
            Affiliate(external_id=f"Q-{i}", name=f"Q {i}", tier="Ouro", cpf=f"{i:011}") for i in range(5, 60)
        )
    with django_assert_max_num_queries(9), CaptureQueriesContext(connection) as many:
        html = client.get("/affiliates/?sort=-total_cash_in").content.decode()

    def reads(queries: CaptureQueriesContext) -> int:  # routing's SET search_path aside
        return sum(1 for q in queries.captured_queries if not q["sql"].startswith("SET search_path"))

    assert result_count(html) == 60
    assert reads(many) == reads(few)


# --- list contents and empty states ---------------------------------------------------------------


def test_the_list_formats_each_column(udn_a, joana, marketer, client_for):
    html = client_for(udn_a, marketer).get("/affiliates/").content.decode()

    assert "123.456.789-09" in html  # marketers see the CPF in full (cpf_full_allowed)
    assert "(11) 98765-4321" in html
    assert "R$\u00a01.234,56" in html
    assert "--tier-color: #9aa5b1" in html  # Prata's colour, from DepositTier
    assert 'data-consent="email" data-granted="1"' in html
    assert 'data-consent="sms" data-granted="0"' in html
    assert f'href="/affiliates/{joana.pk}/"' in html
    assert re.search(r"\d{2}/\d{2}/\d{4}</td>", html)


def test_an_empty_base_points_to_the_import_page(udn_a, marketer, client_for):
    html = client_for(udn_a, marketer).get("/affiliates/").content.decode()

    assert 'data-testid="empty-base"' in html
    assert 'href="/imports/"' in html
    assert 'data-testid="export-csv"' not in html


def test_no_match_is_told_apart_from_an_empty_base(udn_a, joana, marketer, client_for):
    html = client_for(udn_a, marketer).get("/affiliates/?q=ninguem").content.decode()

    assert 'data-testid="empty-filter"' in html
    assert 'data-testid="empty-base"' not in html


def test_filtering_an_empty_base_still_says_the_base_is_empty(udn_a, marketer, client_for):
    html = client_for(udn_a, marketer).get("/affiliates/?q=ninguem").content.decode()

    assert 'data-testid="empty-base"' in html


# --- CSV export -----------------------------------------------------------------------------------


def test_export_streams_the_filtered_set_as_brazilian_csv(udn_a, joana, marketer, client_for):
    with tenant_context(udn_a):
        make_affiliate(name="Fora do Filtro", tags=["outro"], total_cash_in=Decimal("99"))
        Affiliate.objects.filter(pk=joana.pk).update(
            created_at=datetime(2025, 3, 1, 2, 30, tzinfo=UTC),  # 28/02 23:30 in São Paulo
            updated_at=datetime(2025, 3, 5, 15, 0, tzinfo=UTC),
        )

    response = client_for(udn_a, marketer).get("/affiliates/export.csv?tag=vip&page=3")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    body, rows = export_rows(response)
    assert body.startswith("\ufeff")
    header, *data = rows
    assert len(header) == len(EXPORT_COLUMNS)
    assert all(name[0].isupper() for name in header), header  # one style: sentence case
    assert header[:3] == ["Código externo", "Nome", "CPF"] and "Data de nascimento" in header
    assert "Consentimento de e-mail" in header
    assert len(data) == 1
    row = dict(zip(EXPORT_COLUMNS, data[0], strict=True))
    assert row["external_id"] == "A-100"
    assert row["name"] == "Joana Conceição da Silva"
    assert row["cpf_shown"] == "123.456.789-09"  # a marketer's export: the CPF in full
    assert row["total_cash_in"] == "1.234,56"
    assert row["created_at"] == "28/02/2025"
    assert row["updated_at"] == "05/03/2025"
    assert row["tags"] == "vip, sp"
    assert row["phone"] == "'+5511987654321"  # a leading + would make Excel read a formula


def test_export_without_filters_holds_every_affiliate_and_formats_large_amounts(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        make_affiliate(
            name="Rica", total_cash_in=Decimal("1234567.8"), birth_date=datetime(1990, 7, 9).date()
        )
        make_affiliate(name="Zero")

    _body, (_header, *data) = export_rows(client_for(udn_a, marketer).get("/affiliates/export.csv"))

    rows = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in data]
    assert [row["name"] for row in rows] == ["Rica", "Zero"]
    assert rows[0]["total_cash_in"] == "1.234.567,80"
    assert rows[0]["birth_date"] == "09/07/1990"
    assert rows[1]["total_cash_in"] == "0,00"
    assert rows[1]["cpf_shown"] == ""


def test_export_defuses_cells_that_spreadsheets_would_run_as_formulas(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        make_affiliate(name='=HYPERLINK("http://x")')

    _body, (_header, row) = export_rows(client_for(udn_a, marketer).get("/affiliates/export.csv"))

    assert row[EXPORT_COLUMNS.index("name")] == '\'=HYPERLINK("http://x")'


# --- the CPF policy: one rule for the page, the list and the export --------------------------------


def test_analysts_see_the_cpf_masked_on_the_page_the_list_and_the_export(udn_a, joana, analyst, client_for):
    client = client_for(udn_a, analyst)

    page = client.get(f"/affiliates/{joana.pk}/").content.decode()
    listing = client.get("/affiliates/").content.decode()
    _body, (_header, row) = export_rows(client.get("/affiliates/export.csv"))

    for html in (page, listing):
        assert "***.456.789-**" in html
        assert "123.456.789-09" not in html and "12345678909" not in html
    assert row[EXPORT_COLUMNS.index("cpf_shown")] == "***.456.789-**"


def test_marketers_see_the_same_full_cpf_on_the_page_the_list_and_the_export(
    udn_a, joana, marketer, client_for
):
    client = client_for(udn_a, marketer)

    page = client.get(f"/affiliates/{joana.pk}/").content.decode()
    listing = client.get("/affiliates/").content.decode()
    _body, (_header, row) = export_rows(client.get("/affiliates/export.csv"))

    assert "123.456.789-09" in page and "123.456.789-09" in listing
    assert "***" not in page and "***" not in listing
    assert row[EXPORT_COLUMNS.index("cpf_shown")] == "123.456.789-09"


# --- the affiliate page ---------------------------------------------------------------------------


def test_the_affiliate_page_shows_the_full_cpf_and_the_profile(udn_a, joana, marketer, client_for):
    response = client_for(udn_a, marketer).get(f"/affiliates/{joana.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "123.456.789-09" in html
    assert "(11) 98765-4321" in html
    assert "Joana.Silva@Exemplo.com.br" in html
    assert "R$\u00a01.234,56" in html
    assert "Empresa X" in html and "convenio" in html
    assert "#vip" in html


def test_the_timeline_is_newest_first_with_icons_amounts_and_local_times(udn_a, joana, marketer, client_for):
    with tenant_context(udn_a):
        EventKind.objects.create(code="webinar_attended", label="Webinar assistido")
        for event_id, kind, at, amount, props in [
            ("e1", "lead_created", datetime(2025, 1, 10, 12, 0, tzinfo=UTC), None, {}),
            ("e2", "cash_in", datetime(2025, 1, 12, 12, 0, tzinfo=UTC), Decimal("1234.56"), {}),
            (
                "e3",
                "consultation_scheduled",
                datetime(2025, 1, 11, 12, 0, tzinfo=UTC),
                None,
                {"specialty": "Cardiologia"},
            ),
            ("e4", "webinar_attended", datetime(2025, 1, 13, 2, 0, tzinfo=UTC), None, {}),
            (
                "e5",
                "support_ticket_opened",
                datetime(2025, 1, 9, 12, 0, tzinfo=UTC),
                None,
                {"reason": "Senha"},
            ),
        ]:
            Event.objects.create(
                event_id=event_id,
                affiliate=joana,
                type=kind,
                occurred_at=at,
                amount=amount,
                properties=props,
                source="app",
            )

    html = client_for(udn_a, marketer).get(f"/affiliates/{joana.pk}/").content.decode()

    assert re.findall(r'data-event-id="([^"]+)"', html) == ["e4", "e2", "e3", "e1", "e5"]
    assert 'data-testid="event-amount">R$\u00a01.234,56<' in html
    assert "Cardiologia" in html and "Senha" in html and "Webinar assistido" in html
    # Icons from the local SVG sprite (never emoji), the custom kind with the generic one.
    for icon in ("wallet", "stethoscope", "file-pen-line", "headphones", "circle-dot"):
        assert f'icons/sprite.svg#{icon}"' in html
    assert "12/01/2025 09:00" in html  # 12:00 UTC in São Paulo
    assert "12/01/2025 23:00" in html  # e4: 13/01 02:00 UTC is still the 12th there


def test_the_timeline_shows_fifty_and_loads_more_with_htmx(udn_a, joana, marketer, client_for):
    with tenant_context(udn_a):
        Event.objects.bulk_create(
            Event(
                event_id=f"ev-{i:02}",
                affiliate=joana,
                type="cashback",
                amount=Decimal(i),
                occurred_at=datetime(2025, 2, 1, tzinfo=UTC).replace(minute=i),
            )
            for i in range(55)
        )
    client = client_for(udn_a, marketer)

    first = client.get(f"/affiliates/{joana.pk}/").content.decode()
    assert len(re.findall(r'data-testid="timeline-entry"', first)) == 50
    assert 'id="timeline-more"' in first
    assert re.findall(r'data-event-id="([^"]+)"', first)[0] == "ev-54"

    more = client.get(
        f"/affiliates/{joana.pk}/?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-more"
    ).content.decode()
    assert "<html" not in more
    assert re.findall(r'data-event-id="([^"]+)"', more) == ["ev-04", "ev-03", "ev-02", "ev-01", "ev-00"]
    assert 'id="timeline-more"' not in more


def test_the_consent_card_shows_the_current_state_and_the_ledger_newest_first(
    udn_a, joana, marketer, client_for
):
    with tenant_context(udn_a):
        for channel, granted, at, source in [
            ("email", True, datetime(2025, 1, 1, 15, 0, tzinfo=UTC), "ledger-src-1"),
            ("whatsapp", True, datetime(2025, 1, 2, 15, 0, tzinfo=UTC), "ledger-src-2"),
            ("sms", False, datetime(2025, 1, 3, 15, 0, tzinfo=UTC), "ledger-src-3"),
        ]:
            ConsentChange.objects.create(
                affiliate=joana, channel=channel, granted=granted, occurred_at=at, source=source, proof="ok"
            )

    html = client_for(udn_a, marketer).get(f"/affiliates/{joana.pk}/").content.decode()

    assert re.findall(r'data-testid="consent-change" data-granted="(\d)"', html) == ["0", "1", "1"]
    assert re.findall(r"ledger-src-\d", html) == ["ledger-src-3", "ledger-src-2", "ledger-src-1"]
    assert "03/01/2025 12:00" in html
    assert '<li data-consent="email" data-granted="1">' in html
    assert '<li data-consent="sms" data-granted="0">' in html


def test_the_tier_card_shows_progress_to_the_next_band(udn_a, joana, marketer, client_for):
    html = client_for(udn_a, marketer).get(f"/affiliates/{joana.pk}/").content.decode()

    # Prata starts at 500, Ouro at 2000: 1234.56 is 48 % of the way, 765.44 short.
    assert 'aria-valuenow="48"' in html
    assert "R$\u00a0765,44" in html


def test_tier_progress_across_the_bands(udn_a):
    with tenant_context(udn_a):
        tiers = list(DepositTier.objects.order_by("min_total"))
    assert [tier.name for tier in tiers] == ["Bronze", "Prata", "Ouro"]

    nothing = affiliate_tier_progress(total_cash_in=Decimal("0"), tiers=tiers)
    assert nothing.current is None and nothing.next.name == "Bronze" and nothing.missing == Decimal("0.01")
    middle = affiliate_tier_progress(total_cash_in=Decimal("1250"), tiers=tiers)
    assert (middle.current.name, middle.next.name, middle.percent, middle.missing) == (
        "Prata",
        "Ouro",
        50,
        Decimal("750"),
    )
    top = affiliate_tier_progress(total_cash_in=Decimal("5000"), tiers=tiers)
    assert top.current.name == "Ouro" and top.next is None and top.percent == 100
    assert affiliate_tier_progress(total_cash_in=Decimal("10"), tiers=[]).current is None


def test_an_unknown_affiliate_is_404(udn_a, marketer, client_for):
    assert client_for(udn_a, marketer).get("/affiliates/999999/").status_code == 404


# --- access ---------------------------------------------------------------------------------------


def test_analysts_can_view_and_export(udn_a, joana, analyst, client_for):
    client = client_for(udn_a, analyst)

    assert client.get("/affiliates/").status_code == 200
    assert client.get(f"/affiliates/{joana.pk}/").status_code == 200
    export = client.get("/affiliates/export.csv")
    assert export.status_code == 200
    assert len(export_rows(export)[1]) == 2


def test_a_member_of_udn_b_gets_403_on_udn_a_affiliate_urls(udn_a, joana, outsider, client_for):
    client = client_for(udn_a, outsider)

    for url in ("/affiliates/", f"/affiliates/{joana.pk}/", "/affiliates/export.csv"):
        assert client.get(url).status_code == 403, url


def test_an_affiliate_of_udn_a_is_404_on_udn_b_for_a_member_of_both(
    udn_a, udn_b, joana, member_of_both, client_for
):
    assert client_for(udn_a, member_of_both).get(f"/affiliates/{joana.pk}/").status_code == 200
    assert client_for(udn_b, member_of_both).get(f"/affiliates/{joana.pk}/").status_code == 404
    html = client_for(udn_b, member_of_both).get("/affiliates/?q=joana").content.decode()
    assert result_count(html) == 0


def test_anonymous_visitors_are_sent_to_sign_in(udn_a, joana, client_for):
    response = client_for(udn_a).get("/affiliates/export.csv")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


# --- in a browser ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_typing_and_choosing_filters_update_the_table_and_the_address(page, web_server, committed):
    from playwright.sync_api import expect

    from tenants.models import UDN
    from tenants.tests.factories import PASSWORD

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("busca.navegador@alpha.test", udn=alpha)
    committed.append(user.delete)
    with tenant_context(alpha):
        Affiliate.objects.bulk_create(
            [
                Affiliate(
                    external_id="BR-1", name="Joana Conceição", stage=Stage.CASH_IN, phone="+5511987654321"
                ),
                Affiliate(external_id="BR-2", name="João Pereira", stage=Stage.LEAD),
                Affiliate(external_id="BR-3", name="Maria Souza", stage=Stage.CASH_IN),
            ]
        )

    def cleanup() -> None:
        with tenant_context(alpha):
            Affiliate.objects.filter(external_id__startswith="BR-").delete()

    committed.append(cleanup)
    base = f"http://alpha.localhost:{web_server}"

    page.goto(f"{base}/accounts/login/?next=/affiliates/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/affiliates/")
    rows = page.locator("[data-testid=affiliate-row]")
    expect(rows).to_have_count(3)

    page.locator("#id_q").press_sequentially("(11) 98765-4321")  # a phone, typed the way people write it
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Joana Conceição")
    assert parse_qs(urlsplit(page.url).query)["q"] == ["(11) 98765-4321"]

    page.fill("#id_q", "")
    page.locator("label.chip", has=page.locator("input[value=cash_in]")).click()
    expect(rows).to_have_count(2)
    page.select_option("[data-testid=sort-select]", "-name")
    expect(rows.first).to_contain_text("Maria Souza")
    query = parse_qs(urlsplit(page.url).query)
    assert query["stage"] == ["cash_in"] and query["sort"] == ["-name"]

    page.reload()  # the address alone rebuilds the same view
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Maria Souza")


@pytest.mark.browser
def test_back_and_forward_keep_the_filter_form_in_step_with_the_address_and_the_results(
    page, web_server, committed
):
    from playwright.sync_api import expect

    from tenants.models import UDN
    from tenants.tests.factories import PASSWORD

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("historico.navegador@alpha.test", udn=alpha)
    committed.append(user.delete)
    with tenant_context(alpha):
        Affiliate.objects.bulk_create(
            [
                Affiliate(external_id="HB-1", name="Joana Conceição", stage=Stage.CASH_IN, state="SP"),
                Affiliate(external_id="HB-2", name="João Pereira", stage=Stage.LEAD, state="SP"),
                Affiliate(external_id="HB-3", name="Maria Souza", stage=Stage.CASH_IN, state="RJ"),
            ]
        )

    def cleanup() -> None:
        with tenant_context(alpha):
            Affiliate.objects.filter(external_id__startswith="HB-").delete()

    committed.append(cleanup)
    base = f"http://alpha.localhost:{web_server}"
    page.goto(f"{base}/accounts/login/?next=/affiliates/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/affiliates/")
    rows = page.locator("[data-testid=affiliate-row]")
    cash_in = page.locator("#affiliate-filters input[name=stage][value=cash_in]")
    lead = page.locator("#affiliate-filters input[name=stage][value=lead]")
    state = page.locator("#id_state")

    def query() -> dict[str, list[str]]:
        return parse_qs(urlsplit(page.url).query)

    page.locator("label.chip", has=page.locator("input[name=stage][value=cash_in]")).click()  # filter
    expect(rows).to_have_count(2)
    state.select_option("RJ")  # filter again
    expect(rows).to_have_count(1)
    assert query()["stage"] == ["cash_in"] and query()["state"] == ["RJ"]

    page.go_back()  # to "cash in, any state"
    page.wait_for_url(lambda url: "state=RJ" not in url)
    assert query()["stage"] == ["cash_in"] and "state" not in {k for k, v in query().items() if v != [""]}
    expect(rows).to_have_count(2)
    expect(state).to_have_value("")
    expect(cash_in).to_be_checked()
    expect(lead).not_to_be_checked()

    # The next change keeps the restored filters.
    page.locator("label.chip", has=page.locator("input[name=stage][value=lead]")).click()
    expect(rows).to_have_count(3)
    assert sorted(query()["stage"]) == ["cash_in", "lead"]
    expect(cash_in).to_be_checked()

    page.go_back()
    page.go_back()  # to the start: no filter at all
    page.wait_for_url(f"{base}/affiliates/")
    expect(rows).to_have_count(3)
    expect(cash_in).not_to_be_checked()
    page.go_forward()  # "cash in" again
    page.wait_for_url(lambda url: "stage=cash_in" in url)
    expect(rows).to_have_count(2)
    expect(cash_in).to_be_checked()
    expect(state).to_have_value("")


# --- layout and words (issue 9) -------------------------------------------------------------------


def test_the_way_to_the_next_band_is_shown_only_once_the_affiliate_has_deposited(
    udn_a, joana, marketer, client_for
):
    with tenant_context(udn_a):
        lead = make_affiliate(external_id="LEAD-1", name="Lia Lead", total_cash_in=Decimal("0"))
    client = client_for(udn_a, marketer)

    lead_page = client.get(f"/affiliates/{lead.pk}/").content.decode()
    depositor_page = client.get(f"/affiliates/{joana.pk}/").content.decode()

    assert "Faltam" not in lead_page and 'data-testid="tier-progress"' not in lead_page
    assert 'data-testid="tier-no-deposit"' in lead_page and "Nenhum depósito ainda." in lead_page
    assert "Faltam R$\u00a0765,44 para o nível Ouro" in depositor_page


def test_the_affiliate_count_is_plural_for_none_and_grouped_in_thousands(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)
    with tenant_context(udn_a):
        make_affiliate(external_id="ONE", name="Uma Pessoa")
    assert re.search(
        r">\s*0 afiliados\s*<", client.get("/affiliates/?q=ninguém-com-este-nome").content.decode()
    )
    assert re.search(r">\s*1 afiliado\s*<", client.get("/affiliates/").content.decode())

    with tenant_context(udn_a):
        Affiliate.objects.bulk_create(
            [Affiliate(external_id=f"K-{i}", name=f"Pessoa {i}") for i in range(1233)]
        )
    html = client.get("/affiliates/").content.decode()

    assert "1.234 afiliados" in html
