"""Missions (progress, order, window, bonus once) and rankings (ties share a position)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from loyalty.models import EntryKind, LedgerEntry, Mission, MissionProgress, RankingPosition
from loyalty.selectors import mission_progress
from loyalty.services.earning import events_earn
from loyalty.services.ledger import points_adjust
from loyalty.services.rankings import ranking, ranking_alerts_send
from loyalty.tests.helpers import SP, affiliate, at, event, programme


@pytest.fixture
def udn(udn_a):
    with tenant_context(udn_a):
        yield udn_a


def _earn(*events):
    events_earn(event_pks=[e.pk for e in events])


def test_mission_progress_and_completion_pay_the_bonus_once(udn):
    programme()
    mission = Mission.objects.create(
        name="Primeiros passos",
        steps=["app_downloaded", "app_activated", "cash_in"],
        period_days=7,
        bonus_points=500,
    )
    who = affiliate()
    _earn(event(who, "app_activated", at(2)))  # out of order: not the first step
    assert mission_progress(affiliate_id=who.pk)[0]["done"] == 0
    _earn(event(who, "app_downloaded", at(2)), event(who, "app_activated", at(3)))
    progress = mission_progress(affiliate_id=who.pk)[0]
    assert progress["done"] == 2 and progress["completed_at"] is None
    _earn(event(who, "cash_in", at(4), "10"))
    _earn(event(who, "cash_in", at(5), "10"))
    bonus = LedgerEntry.objects.filter(affiliate=who, kind=EntryKind.BONUS)
    assert [b.points for b in bonus] == [500]
    assert MissionProgress.objects.get(affiliate=who, mission=mission).completed_at == at(4)


def test_a_mission_not_finished_in_its_window_starts_again(udn):
    programme()
    Mission.objects.create(
        name="Rápida", steps=["app_downloaded", "cash_in"], ordered=False, period_days=2, bonus_points=50
    )
    who = affiliate()
    _earn(event(who, "cash_in", at(2), "5"))
    _earn(event(who, "app_downloaded", at(9)))  # a week later: the window lapsed
    assert not LedgerEntry.objects.filter(affiliate=who, kind=EntryKind.BONUS).exists()
    _earn(event(who, "cash_in", at(10), "5"))
    assert LedgerEntry.objects.filter(affiliate=who, kind=EntryKind.BONUS).count() == 1


def test_rankings_share_positions_on_ties_and_filter_by_city(udn):
    programme()
    people = [affiliate(city=city) for city in ("Recife", "Recife", "Natal", "Natal")]
    when = datetime(2026, 3, 10, 12, tzinfo=SP)
    for who, points in zip(people, (100, 100, 50, 200), strict=True):
        entry = points_adjust(affiliate=who, points=points, reason="r", by="x")
        LedgerEntry.objects.filter(pk=entry.pk).update(occurred_at=when, kind=EntryKind.BONUS)
    rows = ranking(start=when - timedelta(days=1), end=when + timedelta(days=1))
    assert [(r["position"], r["points"]) for r in rows] == [(1, 200), (2, 100), (2, 100), (4, 50)]
    recife = ranking(start=when - timedelta(days=1), end=when + timedelta(days=1), by="city", value="Recife")
    assert [r["position"] for r in recife] == [1, 1]


def _points_at(who, points, when):
    entry = points_adjust(affiliate=who, points=points, reason="r", by="x")
    LedgerEntry.objects.filter(pk=entry.pk).update(occurred_at=when, kind=EntryKind.BONUS)


def test_ranking_alerts_by_city_and_plan_with_ties_and_their_own_message_source(udn):
    """Top 1 of each ranking: a tie at the top puts both in it (both alerted); a climb in a
    city's ranking is alerted with the city's name even when the overall top does not change;
    a fall out of a plan's top is alerted; the messages have the loyalty source."""
    from campaigns.models import Message, MessageSource, MessageTemplate

    programme(alert_template="ranking", ranking_top_n=1)
    MessageTemplate.objects.create(
        slug="ranking", name="Ranking", channel="email", subject="Oi", body_text="Oi"
    )
    ana, bia = affiliate(city="Recife", plan="Ouro"), affiliate(city="Recife", plan="Ouro")
    caio, duda = affiliate(city="Natal", plan="Prata"), affiliate(city="Natal", plan="Ouro")
    now = datetime(2026, 3, 20, 12, tzinfo=SP)
    day = now - timedelta(days=2)
    for who, points in ((ana, 300), (bia, 300), (caio, 50), (duda, 20)):
        _points_at(who, points, day)
    ranking_alerts_send(now=now)

    def alerts():
        found = {
            (m.affiliate_id, m.variables["ranking"], m.variables["posicao"])
            for m in Message.objects.filter(template__slug="ranking")
        }
        assert set(Message.objects.values_list("source", flat=True)) <= {MessageSource.LOYALTY}
        return found

    first = alerts()
    # Ana and Bia tie at 1 overall, in Recife and in Ouro; Caio leads Natal and Prata; Duda is
    # behind Caio in Natal and behind Ana and Bia in Ouro: nothing for her.
    assert first == {
        (ana.pk, "geral", 1), (ana.pk, "Recife", 1), (ana.pk, "Ouro", 1),
        (bia.pk, "geral", 1), (bia.pk, "Recife", 1), (bia.pk, "Ouro", 1),
        (caio.pk, "Natal", 1), (caio.pk, "Prata", 1),
    }  # fmt: skip
    assert dict(
        RankingPosition.objects.filter(ranking="city:Natal").values_list("affiliate_id", "position")
    ) == {caio.pk: 1}
    # The next day Duda overtakes Caio in Natal (not overall, not in Ouro); Caio moves to Ouro
    # and so falls out of Prata's top (Prata has nobody now) and of Natal's.
    _points_at(duda, 100, day)
    type(caio).objects.filter(pk=caio.pk).update(plan="Ouro")
    Message.objects.all().delete()
    ranking_alerts_send(now=now + timedelta(days=1))
    assert alerts() == {(duda.pk, "Natal", 1), (caio.pk, "Natal", 0), (caio.pk, "Prata", 0)}
