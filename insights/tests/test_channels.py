"""Channels and campaigns: messages per channel for the campaigns launched in the period, and each
campaign's uplift over its holdout with the 95% interval, checked against scipy, "não
significativo" when the interval holds zero."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import translation
from django_tenants.utils import tenant_context
from scipy.stats import binomtest

from campaigns.models import CampaignHoldout, Message, MessageStatus, MessageTemplate
from campaigns.services.campaigns import CampaignDraft, campaign_fan_out, campaign_launch, campaign_save
from crm.models import Event
from crm.tests.factories import AffiliateFactory
from insights.selectors.channels import channels_page
from insights.selectors.dashboards import Filters

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MARCH = Filters(start=date(2026, 3, 1), end=date(2026, 3, 31))


def newcombe_with_scipy(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    a = binomtest(x1, n1).proportion_ci(confidence_level=0.95, method="wilson")
    b = binomtest(x2, n2).proportion_ci(confidence_level=0.95, method="wilson")
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    return d - ((p1 - a.low) ** 2 + (b.high - p2) ** 2) ** 0.5, d + (
        (a.high - p1) ** 2 + (p2 - b.low) ** 2
    ) ** 0.5


@pytest.fixture
def space(udn_a):
    with tenant_context(udn_a):
        MessageTemplate.objects.create(
            slug="t-email", name="E-mail", channel="email", subject="Oi", body_text="Oi"
        )
        yield udn_a


def launch(name: str):
    draft = CampaignDraft(
        name=name,
        audience_query="",
        channels=["email"],
        templates={"email": MessageTemplate.objects.get(channel="email")},
        holdout_percent=50,
        goal_event="cash_in",
        conversion_window_days=7,
    )
    campaign = campaign_launch(campaign=campaign_save(draft=draft, by="marina@alpha.test"), now=NOW)
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    return campaign


@pytest.mark.parametrize(
    ("treated_hits", "held_hits", "verdict"), [(60, 5, "significativo"), (12, 10, "não significativo")]
)
def test_uplift_over_the_holdout_with_scipys_interval(space, treated_hits, held_hits, verdict):
    for _ in range(240):
        AffiliateFactory(consent_email=True)
    campaign = launch("Boas-vindas")
    treated = list(Message.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True))
    held = list(CampaignHoldout.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True))
    Event.objects.bulk_create(
        [Event(event_id=f"t{i}", affiliate_id=pk, type="cash_in", occurred_at=NOW + timedelta(days=1))
         for i, pk in enumerate(treated[:treated_hits])]
        + [Event(event_id=f"h{i}", affiliate_id=pk, type="cash_in", occurred_at=NOW + timedelta(days=1))
           for i, pk in enumerate(held[:held_hits])]
    )  # fmt: skip
    Message.objects.filter(campaign=campaign).update(status=MessageStatus.DELIVERED)
    with translation.override("pt-br"):
        page = channels_page(filters=MARCH)
    [row] = page.table("uplift").rows
    name, goal, n1, x1, _r1, n2, x2, _r2, difference, low, high, result = row
    assert (name, goal, n1, x1, n2, x2) == (
        "Boas-vindas",
        "cash_in",
        len(treated),
        treated_hits,
        len(held),
        held_hits,
    )
    expected_low, expected_high = newcombe_with_scipy(x1, n1, x2, n2)
    assert low == pytest.approx(expected_low, abs=1e-12)
    assert high == pytest.approx(expected_high, abs=1e-12)
    assert difference == pytest.approx(x1 / n1 - x2 / n2)
    assert result == verdict
    [channel] = page.table("channels").rows
    assert channel[:4] == ("email", len(treated), len(treated), len(treated))


def test_campaigns_launched_outside_the_period_are_left_out(space):
    AffiliateFactory(consent_email=True)
    launch("Março")
    assert (
        channels_page(filters=Filters(start=date(2026, 4, 1), end=date(2026, 4, 30))).table("uplift").rows
        == []
    )


def test_the_channels_page_shows_channel_labels_and_plural_headers(space, marketer, client_for):
    AffiliateFactory(consent_email=True)
    launch("Março")
    html = client_for(space, marketer).get(
        "/insights/channels/", {"start": "2026-03-01", "end": "2026-03-31"}
    )
    text = html.content.decode()
    assert '<td class="">E-mail</td>' in text and '<td class="">email</td>' not in text
    assert '<th scope="col">Entregues</th>' in text and '<th scope="col">Entregue</th>' not in text
