"""Editing rewards, missions and the months' budgets in the pages: validation in pt-BR beside each
field, a reward with redemptions or a mission under way deactivated instead of deleted, a month's
budget never below what it spent, every change in the audit log; analysts are refused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from django_tenants.utils import tenant_context

from crm.models import AuditEntry
from loyalty.models import BudgetMonth, Mission, MissionProgress, Reward
from loyalty.services.ledger import points_adjust
from loyalty.services.redemptions import reward_redeem
from loyalty.tests.helpers import SP, affiliate, programme

REWARD = {
    "name": "Consulta",
    "kind": "consultation",
    "description": "",
    "points_price": "100",
    "cost": "12,50",
    "stock": "",
    "available_from": "",
    "available_until": "",
    "active": "on",
}
MISSION = {
    "name": "Primeiros passos",
    "steps_text": "app_downloaded, app_activated, cash_in",
    "ordered": "on",
    "period_days": "7",
    "bonus_points": "50",
    "starts_on": "",
    "ends_on": "",
    "active": "on",
}


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 15, 12, tzinfo=SP), tick=False) as traveller:
        yield traveller


@pytest.fixture
def prog(udn_a, clock):
    with tenant_context(udn_a):
        return programme(monthly_budget=Decimal("1000"))


def _audit(udn, action: str) -> list[AuditEntry]:
    with tenant_context(udn):
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_a_reward_is_created_and_edited_with_validation_and_audit(udn_a, marketer, client_for, prog):
    client = client_for(udn_a, marketer)
    response = client.post(
        "/loyalty/rewards/",
        {
            **REWARD,
            "points_price": "0",
            "cost": "abc",
            "available_from": "2026-04-10",
            "available_until": "2026-04-01",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "O preço em pontos deve ser maior que zero." in page
    assert "Digite um valor em R$, por exemplo 1.234,56." in page
    assert "O fim vem antes do início." in page
    assert client.post("/loyalty/rewards/", REWARD).status_code == 302
    with tenant_context(udn_a):
        reward = Reward.objects.get(name="Consulta")
        assert reward.cost == Decimal("12.50")
    # The edit form shows the cost as people write it, the dates as the date input reads them.
    page = client.get(f"/loyalty/rewards/{reward.pk}/").content.decode()
    assert 'value="12,50"' in page and "Editar a recompensa “Consulta”" in page
    response = client.post(
        f"/loyalty/rewards/{reward.pk}/",
        {**REWARD, "points_price": "120", "cost": "R$ 1.234,56", "available_until": "2026-12-31"},
    )
    assert response.status_code == 302
    with tenant_context(udn_a):
        reward.refresh_from_db()
        assert (reward.points_price, reward.cost, reward.available_until) == (
            120,
            Decimal("1234.56"),
            date(2026, 12, 31),
        )
    assert 'value="2026-12-31"' in client.get(f"/loyalty/rewards/{reward.pk}/").content.decode()
    listing = client.get("/loyalty/rewards/").content.decode()
    assert "R$\xa01.234,56" in listing and "31/12/2026" in listing
    created, updated = _audit(udn_a, "loyalty.reward_created"), _audit(udn_a, "loyalty.reward_updated")
    assert len(created) == 1 and len(updated) == 1
    assert updated[0].changes["points_price"] == [100, 120]
    assert updated[0].changes["cost"] == ["12.50", "1234.56"]
    assert updated[0].actor_label == marketer.email or marketer.email in updated[0].actor_label


def test_a_redeemed_reward_is_deactivated_instead_of_deleted(udn_a, marketer, client_for, prog):
    with tenant_context(udn_a):
        kept = Reward.objects.create(name="Cashback", kind="cashback", points_price=10, cost=Decimal("1"))
        unused = Reward.objects.create(name="Brinde", kind="partner", points_price=10, cost=Decimal("1"))
        who = affiliate()
        points_adjust(affiliate=who, points=50, reason="teste", by="x")
        reward_redeem(affiliate=who, reward_id=kept.pk, by="x")
    client = client_for(udn_a, marketer)
    response = client.post(f"/loyalty/rewards/{kept.pk}/remove/", follow=True)
    assert "Esta recompensa tem resgates: foi desativada em vez de excluída." in response.content.decode()
    client.post(f"/loyalty/rewards/{unused.pk}/remove/")
    with tenant_context(udn_a):
        kept.refresh_from_db()
        assert kept.active is False and not Reward.objects.filter(pk=unused.pk).exists()
    assert len(_audit(udn_a, "loyalty.reward_deactivated")) == 1
    assert len(_audit(udn_a, "loyalty.reward_deleted")) == 1


def test_a_mission_is_edited_but_its_steps_are_kept_once_under_way(udn_a, marketer, client_for, prog):
    client = client_for(udn_a, marketer)
    response = client.post(
        "/loyalty/missions/",
        {
            **MISSION,
            "steps_text": "app_downloaded, voar",
            "bonus_points": "0",
            "starts_on": "2026-04-02",
            "ends_on": "2026-04-01",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Tipos de evento desconhecidos: voar." in page
    assert "O bônus deve ser maior que zero." in page and "O fim vem antes do início." in page
    assert client.post("/loyalty/missions/", MISSION).status_code == 302
    with tenant_context(udn_a):
        mission = Mission.objects.get(name="Primeiros passos")
    assert (
        'value="app_downloaded, app_activated, cash_in"'
        in client.get(f"/loyalty/missions/{mission.pk}/").content.decode()
    )
    # Nobody started it: the steps may still change.
    assert (
        client.post(
            f"/loyalty/missions/{mission.pk}/", {**MISSION, "steps_text": "app_downloaded, cash_in"}
        ).status_code
        == 302
    )
    with tenant_context(udn_a):
        mission.refresh_from_db()
        assert mission.steps == ["app_downloaded", "cash_in"]
        MissionProgress.objects.create(
            mission=mission, affiliate=affiliate(), done=[0], started_at=datetime.now(SP)
        )
    response = client.post(f"/loyalty/missions/{mission.pk}/", {**MISSION, "steps_text": "cash_in"})
    assert response.status_code == 400
    assert "Há afiliados fazendo esta missão: as etapas não podem mudar." in response.content.decode()
    # The bonus and the period still can.
    steps = "app_downloaded, cash_in"
    assert (
        client.post(
            f"/loyalty/missions/{mission.pk}/", {**MISSION, "steps_text": steps, "bonus_points": "80"}
        ).status_code
        == 302
    )
    response = client.post(f"/loyalty/missions/{mission.pk}/remove/", follow=True)
    assert (
        "Há afiliados que começaram esta missão: ela foi desativada em vez de excluída."
        in response.content.decode()
    )
    with tenant_context(udn_a):
        mission.refresh_from_db()
        assert (mission.steps, mission.bonus_points, mission.active) == (
            ["app_downloaded", "cash_in"],
            80,
            False,
        )
    updates = _audit(udn_a, "loyalty.mission_updated")
    assert [entry.changes for entry in updates] == [
        {"steps": [["app_downloaded", "app_activated", "cash_in"], ["app_downloaded", "cash_in"]]},
        {"bonus_points": [50, 80]},
    ]
    assert len(_audit(udn_a, "loyalty.mission_deactivated")) == 1


def test_a_months_budget_is_set_but_never_below_what_it_spent(udn_a, marketer, client_for, prog):
    with tenant_context(udn_a):
        BudgetMonth.objects.create(month=date(2026, 3, 1), budget=Decimal("2000"), spent=Decimal("1234.50"))
    client = client_for(udn_a, marketer)
    response = client.post("/loyalty/budget/", {"month": "2026-03", "budget": "1.000,00"})
    assert response.status_code == 400
    assert (
        "Os resgates já gastaram R$\xa01.234,50 de 03/2026: o orçamento não pode ser menor que isso."
        in response.content.decode()
    )
    response = client.post("/loyalty/budget/", {"month": "2026-02", "budget": "5.000"})
    assert "O orçamento de um mês passado não pode mudar." in response.content.decode()
    assert client.post("/loyalty/budget/", {"month": "2026-03", "budget": "2.500,00"}).status_code == 302
    # A later month without a row of its own gets one (from the programme's R$ 1.000,00).
    assert client.post("/loyalty/budget/", {"month": "2026-05", "budget": "800"}).status_code == 302
    with tenant_context(udn_a):
        budgets = dict(BudgetMonth.objects.values_list("month", "budget"))
    assert budgets == {date(2026, 3, 1): Decimal("2500.00"), date(2026, 5, 1): Decimal("800.00")}
    page = client.get("/loyalty/budget/").content.decode()
    assert "R$\xa02.500,00" in page and "05/2026" in page
    changes = [entry.changes for entry in _audit(udn_a, "loyalty.budget_changed")]
    assert changes == [{"budget": ["2000.00", "2500.00"]}, {"budget": ["1000.00", "800.00"]}]


def test_analysts_see_no_edit_forms_and_their_posts_are_refused(udn_a, analyst, client_for, prog):
    with tenant_context(udn_a):
        reward = Reward.objects.create(name="Cashback", kind="cashback", points_price=10, cost=Decimal("1"))
        mission = Mission.objects.create(name="Missão", steps=["cash_in"], bonus_points=5)
    client = client_for(udn_a, analyst)
    for url, marker in (
        ("/loyalty/rewards/", "reward-form"),
        ("/loyalty/missions/", "mission-form"),
        ("/loyalty/budget/", "budget-form"),
    ):
        page = client.get(url)
        assert page.status_code == 200 and f'data-testid="{marker}"' not in page.content.decode()
    for url, data in (
        ("/loyalty/rewards/", REWARD),
        (f"/loyalty/rewards/{reward.pk}/", {**REWARD, "points_price": "1"}),
        (f"/loyalty/rewards/{reward.pk}/remove/", {}),
        ("/loyalty/missions/", MISSION),
        (f"/loyalty/missions/{mission.pk}/", MISSION),
        (f"/loyalty/missions/{mission.pk}/remove/", {}),
        ("/loyalty/budget/", {"month": "2026-03", "budget": "1"}),
    ):
        assert client.post(url, data).status_code == 403, url
    assert client.get(f"/loyalty/rewards/{reward.pk}/").status_code == 403
    with tenant_context(udn_a):
        reward.refresh_from_db()
        mission.refresh_from_db()
        assert (reward.points_price, reward.active, mission.name) == (10, True, "Missão")
        assert Reward.objects.count() == 1 and not BudgetMonth.objects.exists()
        assert not AuditEntry.objects.filter(action__startswith="loyalty.").exists()


def test_the_rewards_list_shows_an_open_availability_as_the_rules_list_does(
    udn_a, marketer, client_for, prog
):
    """A reward without dates read "— – —"; one open at an end shows "…" there, like the rules."""
    client = client_for(udn_a, marketer)
    assert client.post("/loyalty/rewards/", REWARD).status_code == 302
    assert (
        client.post(
            "/loyalty/rewards/", {**REWARD, "name": "Até o Natal", "available_until": "2026-12-25"}
        ).status_code
        == 302
    )
    listing = client.get("/loyalty/rewards/").content.decode()
    assert "— – —" not in listing
    assert "… – 25/12/2026" in listing
    assert "<td>—</td>" in listing
