"""A marketer drafts a rule in the rules editor (the live check answering as she types), simulates
the draft over the UDN's real events (the real worker on the long queue, the progress bar, the
figures and the chart), publishes it, and a new event then earns points under it (the real
worker on the default queue): the affiliate's page shows them."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Affiliate, Event
from crm.services.events import EventInput, events_ingest
from loyalty.models import LedgerEntry, Programme, Rule, RuleSet, Simulation
from loyalty.services.programme import programme_save
from tenants.models import UDN

pytestmark = [pytest.mark.browser]

PREFIX = "LYB-"


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        LedgerEntry.objects.filter(affiliate__external_id__startswith=PREFIX).delete()
        Simulation.objects.all().delete()
        Rule.objects.all().delete()
        RuleSet.objects.all().delete()
        Programme.objects.all().delete()
        Affiliate.objects.filter(external_id__startswith=PREFIX).delete()


def _ingest(who: Affiliate, event_id: str, amount: str, when) -> None:
    outcome = events_ingest(
        items=[
            EventInput(
                event_id=event_id,
                type="cash_in",
                occurred_at=when,
                affiliate_id=who.pk,
                properties={"amount": amount},
            )
        ],
        source="test",
    )[0]
    assert outcome.accepted


def test_a_rule_drafted_simulated_and_published_in_the_browser_earns_points(
    page, web_server, celery_workers, committed
):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("fidelidade.pessoa@alpha.test", udn=alpha)
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    now = timezone.now()
    with tenant_context(alpha):
        assert not Programme.objects.exists()
        programme_save(name="Clube Alpha", point_value=Decimal("0.05"), monthly_budget=Decimal("500"))
        ana = Affiliate.objects.create(external_id=f"{PREFIX}1", name="Ana Pontos")
        # The history the simulator replays (no rule is live: nothing earned yet).
        _ingest(ana, "lyb-1", "100.00", now - timedelta(days=10))
        _ingest(ana, "lyb-2", "50.00", now - timedelta(days=5))
    base = f"http://alpha.localhost:{web_server}"

    page.goto(f"{base}/accounts/login/?next=/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.click("nav.mainnav summary >> text=Fidelidade")
    page.click("nav.mainnav >> text=Regras e simulador")
    page.wait_for_url(f"{base}/loyalty/rules/")

    # The draft rule, checked as it is typed.
    form = page.locator("[data-testid=rule-form]")
    form.locator("#id_code").fill("deposito")
    form.locator("#id_name").fill("Depósito em dobro")
    form.locator("#id_event_type").select_option("app_downloaded")
    form.locator("#id_points_kind").select_option("per_real")
    form.locator("#id_points").fill("0")
    points_error = page.locator("[data-testid=rule-error-points]")
    kind_error = page.locator("[data-testid=rule-error-points_kind]")
    points_error.filter(has_text="Os pontos devem ser maiores que zero.").wait_for()
    kind_error.filter(has_text="Pontos por R$ precisam de um tipo de evento com valor").wait_for()
    form.locator("#id_event_type").select_option("cash_in")
    form.locator("#id_points").fill("2")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=rule-error-points]').textContent.trim()"
        " && !document.querySelector('[data-testid=rule-error-points_kind]').textContent.trim()"
    )
    page.click("[data-testid=rule-save]")
    page.wait_for_url(f"{base}/loyalty/rules/")
    assert (
        page.locator("[data-testid=draft-rules] [data-testid=rule-row]")
        .inner_text()
        .startswith("Depósito em dobro")
    )

    # The simulator over the last 90 days (the form's default period), on the real worker.
    assert page.input_value("#id_start") == (timezone.localdate() - timedelta(days=90)).isoformat()
    page.click("[data-testid=simulate]")
    page.wait_for_url(f"{base}/loyalty/simulations/*/")
    done = page.locator("[data-testid=simulation][data-status=done]")
    page.locator("[data-testid=sim-progress]").or_(done).first.wait_for()
    done.wait_for(timeout=60_000)
    assert page.locator("[data-testid=sim-draft-points]").inner_text() == "300 pontos seriam emitidos"
    assert page.locator("[data-testid=sim-draft-distribution]").inner_text() == (
        "1 afiliado pontua; mediana 300, p90 300, top 1% a partir de 300"
    )
    assert "Depósito em dobro" in page.locator("[data-testid=sim-by-rule]").inner_text()
    page.wait_for_function("() => !!(window.Chart && Chart.getChart(document.getElementById('sim-weeks')))")
    with tenant_context(alpha):
        assert not LedgerEntry.objects.filter(affiliate=ana).exists()  # a simulation gives nothing

    # Published: the draft becomes the live rules.
    page.goto(f"{base}/loyalty/rules/")
    page.click("[data-testid=publish]")
    page.wait_for_url(f"{base}/loyalty/rules/")
    assert "Regras publicadas" in page.content()
    assert "Depósito em dobro" in page.locator("[data-testid=live-rules]").inner_text()

    # A new cash in of R$ 40,00 earns 80 points through the live rule, on the real worker.
    with tenant_context(alpha):
        _ingest(ana, "lyb-3", "40.00", timezone.now())
        new = Event.objects.get(event_id="lyb-3")
        deadline = time.monotonic() + 60
        while not LedgerEntry.objects.filter(event=new).exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting for another process, not for the clock
    page.goto(f"{base}/affiliates/{ana.pk}/")
    assert page.locator("[data-testid=loyalty-balance]").inner_text() == "80"
    ledger = page.locator("[data-testid=loyalty-ledger] tr")
    assert ledger.count() == 1
    assert "Ganho" in ledger.inner_text() and "Depósito em dobro" in ledger.inner_text()
