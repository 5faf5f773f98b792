"""Data quality: figures by SQL, daily snapshots, drops, the nightly task, the UDN page
and the shared space's side-by-side view."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Affiliate, Event, QualitySnapshot
from crm.selectors.quality import (
    COMPUTING_CACHE_KEY,
    QualityDrop,
    quality_computing,
    quality_drops,
    quality_figures,
    udn_today,
)
from crm.services.quality import (
    quality_recompute_request,
    quality_snapshot_compute,
    quality_snapshot_take,
)
from crm.tasks.quality import quality_snapshot
from tenants.models import UDN


def _forget_computations() -> None:
    for slug in ("alpha", "beta"):
        with tenant_context(UDN.objects.get(slug=slug)):
            cache.delete(COMPUTING_CACHE_KEY)


@pytest.fixture(autouse=True)
def _no_computation_under_way(django_db_setup, django_db_blocker):
    """The "em cálculo" state lives in the cache per UDN; each test starts (and ends) without it."""
    with django_db_blocker.unblock():
        _forget_computations()
    yield
    with django_db_blocker.unblock():
        _forget_computations()


def cpf_with_check_digits(first_nine: str) -> str:
    """The valid CPF starting with `first_nine` (the textbook algorithm, independent of the SQL)."""
    digits = [int(c) for c in first_nine]
    for count in (9, 10):
        total = sum(d * (count + 1 - i) for i, d in enumerate(digits[:count]))
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


def cpf_is_valid(cpf: str) -> bool:
    return len(cpf) == 11 and cpf.isdigit() and len(set(cpf)) > 1 and cpf_with_check_digits(cpf[:9]) == cpf


def clean_affiliate(n: int, **overrides) -> Affiliate:
    values = {
        "external_id": f"Q-{n}",
        "cpf": cpf_with_check_digits(f"{100000000 + n * 7919:09d}"),
        "name": f"Pessoa {n}",
        "email": f"pessoa{n}@exemplo.com.br",
        "phone": f"+55819{n:08d}",
        "birth_date": date(1985, 5, 17),
        "city": "Recife",
        "state": "PE",
        "plan": "Ouro",
        "origin": "store",
        "consent_push": True,
    }
    values.update(overrides)
    return Affiliate(**values)


def build_known_base() -> None:
    """20 affiliates: 10 clean, 10 with known faults (see the expected figures below)."""
    tomorrow = udn_today() + timedelta(days=1)
    shared_cpf = cpf_with_check_digits("529982247")
    shared_phone = "+5521987654321"
    faulty = {
        0: {"birth_date": tomorrow, "consent_email": True, "consent_whatsapp": True},
        1: {"cpf": "", "email": "", "birth_date": None, "consent_email": True, "consent_whatsapp": True},
        2: {"phone": "", "city": "  ", "plan": "", "consent_email": True, "consent_whatsapp": True},
        3: {"cpf": "12345678900", "name": "  ", "plan": "", "consent_email": True},  # right one ends in 09
        4: {"phone": "+551132345678", "email": "joana.exemplo.com", "origin": "", "consent_email": True},
        5: {"phone": shared_phone, "consent_email": True},
        6: {"phone": shared_phone},
        7: {"phone": shared_phone, "cpf": "11111111111"},
        8: {"cpf": shared_cpf},
        9: {"cpf": shared_cpf, "birth_date": date(1899, 12, 31)},
    }
    Affiliate.objects.bulk_create(clean_affiliate(n, **faulty.get(n, {})) for n in range(20))
    long_ago = timezone.now() - timedelta(days=200)
    Affiliate.objects.filter(external_id__in=["Q-0", "Q-1", "Q-2"]).update(updated_at=long_ago)
    Event.objects.create(
        event_id="q-recent",
        affiliate=Affiliate.objects.get(external_id="Q-2"),
        type="app_activated",
        occurred_at=timezone.now() - timedelta(days=10),
    )
    Event.objects.create(
        event_id="q-old",
        affiliate=Affiliate.objects.get(external_id="Q-1"),
        type="app_activated",
        occurred_at=timezone.now() - timedelta(days=300),
    )


def test_figures_count_blanks_invalid_values_duplicates_consent_and_stale_records(udn_a):
    with tenant_context(udn_a):
        build_known_base()
        figures = quality_figures()

    assert figures["total"] == 20
    assert figures["completeness"] == {
        "cpf": 95.0,
        "name": 95.0,
        "email": 95.0,
        "phone": 95.0,
        "birth_date": 95.0,
        "city": 95.0,
        "state": 100.0,
        "plan": 90.0,
        "origin": 95.0,
    }
    assert figures["filled"]["plan"] == 18
    assert figures["invalid"] == {"cpf": 2, "phone": 1, "email": 1, "birth_date": 2}
    assert figures["duplicates"] == {
        "cpf_affiliates": 2,
        "cpf_groups": 1,
        "phone_affiliates": 3,
        "phone_groups": 1,
    }
    assert figures["consent"] == {"email": 30.0, "whatsapp": 15.0, "sms": 0.0, "push": 100.0, "telegram": 0.0}
    # Q-0, Q-1 and Q-2 not updated in 200 days; Q-2 had an event 10 days ago, Q-1's is 300 days old.
    assert figures["stale"] == {"not_updated": 3, "stale": 2}
    # key completeness 95, minus 100×6/20 for invalid values and 50×(2+3)/20 for duplicates.
    assert figures["penalties"] == {"invalid": 30.0, "duplicates": 12.5}
    assert figures["score"] == 52.5


def test_cpf_check_digits_computed_in_sql_agree_with_the_algorithm(udn_a):
    rng = random.Random(20260501)
    cpfs = {cpf_with_check_digits(f"{rng.randrange(10**9):09d}") for _ in range(25)}
    cpfs |= {f"{rng.randrange(10**11):011d}" for _ in range(25)}
    cpfs |= {"00000000000", "99999999999", "52998224725", "52998224726"}
    with tenant_context(udn_a):
        Affiliate.objects.bulk_create(
            Affiliate(external_id=f"C-{i}", name="Pessoa", cpf=cpf) for i, cpf in enumerate(sorted(cpfs))
        )
        figures = quality_figures()

    assert figures["invalid"]["cpf"] == sum(1 for cpf in cpfs if not cpf_is_valid(cpf))
    assert 0 < figures["invalid"]["cpf"] < len(cpfs)


@pytest.mark.parametrize(
    ("phone", "email", "invalid_phone", "invalid_email"),
    [
        ("+5511987654321", "ana@exemplo.com", 0, 0),
        ("+5511887654321", "ana@exemplo", 1, 1),  # no 9 after the area code; no TLD
        ("+5520987654321", "ana@@exemplo.com", 1, 1),  # area code 20 does not exist
        ("+14155550100", "ana silva@exemplo.com", 1, 1),  # not Brazil; a space
        ("+55119876543210", "@exemplo.com", 1, 1),  # one digit too many; no local part
    ],
)
def test_phones_must_be_brazilian_mobiles_and_emails_must_look_like_addresses(
    udn_a, phone, email, invalid_phone, invalid_email
):
    with tenant_context(udn_a):
        Affiliate.objects.create(external_id="P-1", name="Ana", phone=phone, email=email)
        figures = quality_figures()

    assert figures["invalid"]["phone"] == invalid_phone
    assert figures["invalid"]["email"] == invalid_email


def test_an_empty_base_has_no_percentages_and_no_score(udn_b):
    with tenant_context(udn_b):
        figures = quality_figures()

    assert figures["total"] == 0
    assert set(figures["completeness"].values()) == {None}
    assert set(figures["consent"].values()) == {None}
    assert figures["score"] is None


def test_a_snapshot_is_upserted_once_a_day_in_the_udns_time_zone(udn_a):
    # 01:30 UTC on the 10th is still the 9th in São Paulo.
    with time_machine.travel(datetime(2026, 3, 10, 1, 30, tzinfo=UTC), tick=False), tenant_context(udn_a):
        Affiliate.objects.create(external_id="A-1", name="Ana")
        first = quality_snapshot_take()
        Affiliate.objects.create(external_id="A-2", name="Bia")
        again = quality_snapshot_take()
        other_day = quality_snapshot_take(day=date(2026, 3, 1))

        assert first.day == again.day == date(2026, 3, 9)
        assert first.pk == again.pk
        assert QualitySnapshot.objects.count() == 2
        assert QualitySnapshot.objects.get(day=date(2026, 3, 9)).figures["total"] == 2
        assert other_day.day == date(2026, 3, 1)


def test_drops_flag_percentages_that_fell_by_the_threshold_or_more():
    previous = {
        "score": 80.0,
        "completeness": {"phone": 96.2, "email": 90.0, "cpf": 99.0},
        "consent": {"whatsapp": 40.0, "email": 50.0},
    }
    today = {
        "score": 75.0,
        "completeness": {"phone": 90.0, "email": 85.1, "cpf": 100.0},
        "consent": {"whatsapp": 30.0, "email": 50.0},
    }

    drops = quality_drops(today=today, previous=previous)

    assert drops == [
        QualityDrop(group="score", field="score", before=80.0, after=75.0),
        QualityDrop(group="completeness", field="phone", before=96.2, after=90.0),
        QualityDrop(group="consent", field="whatsapp", before=40.0, after=30.0),
    ]
    assert drops[1].points == 6.2
    assert [d.field for d in quality_drops(today=today, previous=previous, threshold_points=4.9)] == [
        "score",
        "email",
        "phone",
        "whatsapp",
    ]


def test_drops_ignore_rises_and_missing_values():
    previous = {"score": None, "completeness": {"phone": 50.0}, "consent": {"email": 10.0}}
    today = {"score": 10.0, "completeness": {"phone": None}, "consent": {"email": 60.0}}

    assert quality_drops(today=today, previous=previous) == []


def test_the_nightly_task_takes_the_snapshot_in_the_schema_it_carries(udn_a, udn_b):
    with tenant_context(udn_a):
        Affiliate.objects.create(external_id="A-1", name="Ana")

    result = quality_snapshot.apply(headers={"_schema_name": "alpha"})

    assert result.successful(), result.traceback
    assert result.get()["day"] == udn_today().isoformat()
    with tenant_context(udn_a):
        assert QualitySnapshot.objects.get().figures["total"] == 1
        assert quality_computing() is None  # the page no longer says "em cálculo"
    with tenant_context(udn_b):
        assert not QualitySnapshot.objects.exists()


# --- the UDN page -----------------------------------------------------------------------------------


def data_value(html: str, testid: str, field: str) -> str:
    """The data-value of `field`'s number cell in the table `testid` (the first number column)."""
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    row = table.split(f'data-field="{field}"', 1)[1].split("</tr>", 1)[0]
    match = re.search(r'data-value="([^"]*)"', row)
    assert match, row
    return match.group(1)


def test_the_udn_page_shows_todays_figures_to_an_analyst(udn_a, analyst, client_for):
    # 14:32 in São Paulo.
    with time_machine.travel(datetime(2026, 3, 10, 17, 32, tzinfo=UTC), tick=False):
        with tenant_context(udn_a):
            build_known_base()
            quality_snapshot_take()

        response = client_for(udn_a, analyst).get("/quality/")

    assert response.status_code == 200
    html = response.content.decode()
    assert data_value(html, "quality-completeness", "plan") == "90.0"
    assert data_value(html, "quality-invalid", "cpf") == "2"
    assert data_value(html, "quality-duplicates", "phone") == "3"
    assert data_value(html, "quality-consent", "whatsapp") == "15.0"
    assert re.search(
        r'data-testid="quality-score">\s*<h2>.*?</h2>\s*<p class="bignum" data-value="52.5"', html, re.S
    )
    assert 'data-testid="quality-trend-empty"' in html  # one snapshot: no trend yet
    assert "Calculados em 10/03/2026 às 14:32." in html
    assert 'data-testid="quality-computing"' not in html
    assert 'data-testid="quality-recompute"' not in html  # read-only role


def test_the_page_never_computes_the_figures_when_recent_ones_exist(udn_a, marketer, client_for):
    with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False), tenant_context(udn_a):
        build_known_base()
        quality_snapshot_take()
        Affiliate.objects.bulk_create(clean_affiliate(n) for n in range(100, 105))

    # 23 hours later the nightly figures are still recent: shown as they are, nothing computed.
    with time_machine.travel(datetime(2026, 3, 11, 8, 0, tzinfo=UTC), tick=False):
        with CaptureQueriesContext(connection) as queries:
            response = client_for(udn_a, marketer).get("/quality/")

        html = response.content.decode()
        assert re.search(
            r'data-testid="quality-total">\s*<h2>.*?</h2>\s*<p class="bignum" data-value="20"', html, re.S
        )
        assert "Calculados em 10/03/2026 às 06:00." in html
        assert not [q["sql"] for q in queries.captured_queries if "crm_affiliate" in q["sql"]]
        with tenant_context(udn_a):
            assert quality_computing() is None
        assert 'data-testid="quality-recompute"' in html


def test_without_recent_figures_the_page_queues_one_computation_and_says_so(
    udn_a, analyst, client_for, django_capture_on_commit_callbacks
):
    with tenant_context(udn_a):
        build_known_base()
    client = client_for(udn_a, analyst)

    with django_capture_on_commit_callbacks() as queued:
        first = client.get("/quality/").content.decode()
        again = client.get("/quality/").content.decode()

    assert len(queued) == 1  # one computation, however many times the page is opened
    for html in (first, again):
        assert 'data-testid="quality-pending"' in html
        assert 'data-testid="quality-computing"' in html and 'hx-get="/quality/status/"' in html
        assert 'data-testid="quality-empty"' not in html  # not "no affiliates": not computed yet
    with tenant_context(udn_a):
        assert quality_computing() is not None
        assert not QualitySnapshot.objects.exists()  # the page computed nothing itself


def test_figures_older_than_a_day_are_shown_while_new_ones_are_computed(
    udn_a, analyst, client_for, django_capture_on_commit_callbacks
):
    with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False), tenant_context(udn_a):
        build_known_base()
        quality_snapshot_take()

    later = time_machine.travel(datetime(2026, 3, 11, 9, 30, tzinfo=UTC), tick=False)
    with later, django_capture_on_commit_callbacks() as queued:
        html = client_for(udn_a, analyst).get("/quality/").content.decode()

    assert len(queued) == 1
    assert "Calculados em 10/03/2026 às 06:00." in html
    assert 'data-testid="quality-computing"' in html
    assert 'data-testid="quality-score"' in html  # the old figures stay on the page meanwhile


def test_an_empty_base_shows_an_empty_state(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        quality_snapshot_take()

    response = client_for(udn_a, marketer).get("/quality/")

    assert response.status_code == 200
    assert 'data-testid="quality-empty"' in response.content.decode()


def test_analysts_may_not_recompute(udn_a, analyst, client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        response = client_for(udn_a, analyst).post("/quality/recompute/", HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert queued == []
    with tenant_context(udn_a):
        assert quality_computing() is None


def test_a_marketer_recomputes_and_the_page_follows_until_the_figures_are_stored(
    udn_a, marketer, client_for, django_capture_on_commit_callbacks
):
    clock = time_machine.travel(datetime(2026, 3, 10, 13, 0, tzinfo=UTC), tick=False)
    traveller = clock.start()
    try:
        with tenant_context(udn_a):
            Affiliate.objects.create(external_id="A-1", name="Ana")
            quality_snapshot_take()
        client = client_for(udn_a, marketer)

        with django_capture_on_commit_callbacks() as queued:
            response = client.post("/quality/recompute/", HTTP_HX_REQUEST="true")
            client.post("/quality/recompute/", HTTP_HX_REQUEST="true")  # a second click queues nothing

        assert len(queued) == 1
        html = response.content.decode()
        assert html.lstrip().startswith("<p") and 'id="quality-computing"' in html
        assert 'hx-get="/quality/status/"' in html and 'hx-trigger="every 2s"' in html
        assert "Cálculo na fila…" in html
        polled = client.get("/quality/status/", HTTP_HX_REQUEST="true")
        assert 'id="quality-computing"' in polled.content.decode() and "HX-Refresh" not in polled.headers

        traveller.shift(timedelta(minutes=5))
        with tenant_context(udn_a):
            Affiliate.objects.create(external_id="A-2", name="Bia")
            quality_snapshot_compute()  # what the queued task does

        done = client.get("/quality/status/", HTTP_HX_REQUEST="true")
        assert done.status_code == 200 and done.headers["HX-Refresh"] == "true"
        page = client.get("/quality/").content.decode()
    finally:
        clock.stop()

    assert "Calculados em 10/03/2026 às 10:05." in page
    assert re.search(
        r'data-testid="quality-total">\s*<h2>.*?</h2>\s*<p class="bignum" data-value="2"', page, re.S
    )


def test_the_computing_state_shows_since_when_a_worker_runs_it(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        cache.set(
            COMPUTING_CACHE_KEY, {"queued_at": None, "started_at": datetime(2026, 3, 10, 13, 5, tzinfo=UTC)}
        )

    html = client_for(udn_a, marketer).get("/quality/status/", HTTP_HX_REQUEST="true").content.decode()

    assert "Em cálculo desde 10:05…" in html


def test_recompute_without_htmx_redirects_back_with_a_message(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)
    response = client.post("/quality/recompute/")

    assert response.status_code == 302
    assert response.url == "/quality/"
    assert "Os números estão sendo calculados" in client.get("/quality/").content.decode()


def test_a_queued_computation_runs_in_the_worker_and_clears_the_computing_state(
    django_db_setup, committed, celery_worker_process
):
    alpha = UDN.objects.get(slug="alpha")

    def cleanup() -> None:
        with tenant_context(alpha):
            QualitySnapshot.objects.all().delete()
            Affiliate.objects.filter(external_id__startswith="W-").delete()

    committed.append(cleanup)
    with tenant_context(alpha):
        Affiliate.objects.create(external_id="W-1", name="Wanda")
        assert quality_recompute_request() is True

        deadline = time.monotonic() + 60
        while quality_computing() is not None and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting for another process, not for the clock

        assert quality_computing() is None, "the worker did not finish the computation"
        assert QualitySnapshot.objects.get(day=udn_today()).figures["total"] == 1


def snapshot_figures(**changes) -> dict:
    figures = {
        "total": 100,
        "score": 90.0,
        "completeness": {"cpf": 100.0, "name": 100.0, "email": 90.0, "phone": 100.0},
        "consent": {"email": 0.0, "whatsapp": 0.0},
        "duplicates": {"cpf_affiliates": 0, "phone_affiliates": 0},
    }
    for key, value in changes.items():
        if isinstance(value, dict):
            figures[key] = {**figures[key], **value}
        else:
            figures[key] = value
    return figures


def test_the_page_warns_about_drops_since_the_previous_snapshot_and_draws_the_trend(
    udn_a, analyst, client_for
):
    today = udn_today()
    with tenant_context(udn_a):
        # 10 affiliates, one without a phone: 90 % now against 100 % yesterday.
        Affiliate.objects.bulk_create(
            clean_affiliate(n, phone="" if n == 0 else f"+55819{n:08d}") for n in range(10)
        )
        QualitySnapshot.objects.create(day=today - timedelta(days=3), figures=snapshot_figures(score=88.0))
        QualitySnapshot.objects.create(day=today - timedelta(days=1), figures=snapshot_figures())
        quality_snapshot_take()

    html = client_for(udn_a, analyst).get("/quality/").content.decode()

    drops = re.findall(
        r'data-testid="quality-drop" data-group="(\w+)" data-field="(\w+)" data-points="([\d.]+)"', html
    )
    assert drops == [("completeness", "phone", "10.0")]
    assert (today - timedelta(days=1)).strftime("%d/%m") in html.split('data-testid="quality-drops"')[1]
    assert 'data-testid="quality-chart"' in html
    assert re.findall(r'<polyline class="series" data-series="(\w+)"', html) == [
        "score",
        "cpf",
        "phone",
        "email",
    ]
    assert (today - timedelta(days=3)).strftime("%d/%m") in html.split('data-testid="quality-chart"')[1]


def test_the_udn_page_stays_within_a_few_queries(udn_a, analyst, client_for, django_assert_max_num_queries):
    today = udn_today()
    with tenant_context(udn_a):
        Affiliate.objects.bulk_create(clean_affiliate(n) for n in range(5))
        QualitySnapshot.objects.bulk_create(
            QualitySnapshot(day=today - timedelta(days=d), figures=snapshot_figures(score=80.0 + d))
            for d in range(1, 31)
        )
        quality_snapshot_take()
    client = client_for(udn_a, analyst)

    # Routing (host lookup and two SET search_path), session, user, membership, switcher UDNs
    # and their domains; then the page's own: one for 31 snapshots (the figures are the newest
    # one's: never computed on request).
    with django_assert_max_num_queries(9):
        cold = client.get("/quality/")
    # Routing: one SET search_path and the page's one snapshot query.
    with django_assert_max_num_queries(7):
        warm = client.get("/quality/")

    assert cold.status_code == warm.status_code == 200


# --- the shared space -------------------------------------------------------------------------------


SECRET_CPF = cpf_with_check_digits("987654321")


def take_alpha_snapshot(udn_a) -> None:
    with tenant_context(udn_a):
        build_known_base()
        Affiliate.objects.filter(external_id="Q-10").update(name="Joana Sigilosa", cpf=SECRET_CPF)
        quality_snapshot_take()


def overview_rows(html: str) -> list[str]:
    return re.findall(r'data-udn="([\w-]+)"', html)


def test_coordinators_see_every_udn_side_by_side_aggregates_only(udn_a, udn_b, coordinator, client_for):
    take_alpha_snapshot(udn_a)

    response = client_for(None, coordinator).get("/quality/")

    assert response.status_code == 200
    html = response.content.decode()
    assert overview_rows(html) == ["alpha", "beta"]
    alpha = html.split('data-testid="quality-row-alpha"')[1].split("</tr>")[0]
    values = re.findall(r'data-value="([^"]*)"', alpha)
    assert values == [udn_today().isoformat(), "20", "52.5", "95.0", "95.0", "95.0", "30.0", "15.0", "2/3"]
    beta = html.split('data-testid="quality-row-beta"')[1].split("</tr>")[0]
    assert 'data-testid="quality-row-empty"' in beta
    assert "Joana Sigilosa" not in html and SECRET_CPF not in html and SECRET_CPF[:3] + "." not in html


def test_members_see_only_their_own_udns(udn_a, udn_b, marketer, outsider, client_for):
    take_alpha_snapshot(udn_a)

    mine = client_for(None, marketer).get("/quality/").content.decode()
    theirs = client_for(None, outsider).get("/quality/").content.decode()

    assert overview_rows(mine) == ["alpha"]
    assert overview_rows(theirs) == ["beta"]


def test_the_overview_needs_a_signed_in_user(db, client_for):
    response = client_for(None).get("/quality/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
