"""The rules editor: the live check (htmx, as the marketer types) and the save answer with the
same validation (loyalty.services.programme.rule_errors), each message in pt-BR beside its field;
draft rules can be edited; analysts can neither check, add nor edit."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from loyalty.models import Rule
from loyalty.services.programme import draft_get, rule_save
from loyalty.tests.helpers import programme

GOOD = {
    "code": "deposito",
    "name": "Depósito",
    "event_type": "cash_in",
    "points_kind": "per_real",
    "points": "1",
    "limit_period": "",
    "limit_count": "1",
}


@pytest.fixture
def draft(udn_a):
    with tenant_context(udn_a):
        programme()
        return draft_get()


def _errors(html: str) -> dict[str, str]:
    """Field → the message the live check shows beside it ('' for none)."""
    found = re.findall(r'id="rule-error-([\w_]+)"[^>]*>(.*?)</ul>', html, flags=re.S)
    return {name: re.sub(r"<[^>]+>", "", body).strip() for name, body in found}


def test_live_check_shows_each_rule_error_beside_its_field_in_portuguese(udn_a, marketer, client_for, draft):
    client = client_for(udn_a, marketer)
    cases = [
        ({"points": "0"}, "points", "Os pontos devem ser maiores que zero."),
        ({"points": "-3"}, "points", "Os pontos devem ser maiores que zero."),
        ({"points_kind": "multiplier", "points": "1"}, "points", "Um multiplicador deve ser maior que 1."),
        (
            {"event_type": "app_downloaded"},
            "points_kind",
            "Pontos por R$ precisam de um tipo de evento com valor",
        ),
        (
            {"limit_count": "3"},
            "limit_count",
            "Escolha o período do limite (por dia, por mês ou para sempre) para mais de uma vez.",
        ),
        (
            {"limit_count": "0", "limit_period": "day"},
            "limit_count",
            "O limite deve ser de pelo menos uma vez.",
        ),
        (
            {"valid_from": "2026-03-10", "valid_until": "2026-03-01"},
            "valid_until",
            "O fim vem antes do início.",
        ),
        ({"conditions": "[{"}, "conditions", "As condições devem estar em JSON."),
        (
            {"conditions": '[{"field": "canal"}]'},
            "conditions",
            "Cada condição precisa de uma propriedade, um operador e um valor.",
        ),
    ]
    for change, field, message in cases:
        response = client.post("/loyalty/rules/validate/", {**GOOD, **change})
        assert response.status_code == 200
        errors = _errors(response.content.decode())
        assert errors[field].startswith(message), (change, errors)
        assert all(not text for name, text in errors.items() if name != field), (change, errors)
    # A rule without a fault shows none; a field still empty is not scolded while typing.
    assert not any(_errors(client.post("/loyalty/rules/validate/", GOOD).content.decode()).values())
    assert not any(
        _errors(client.post("/loyalty/rules/validate/", {"event_type": "cash_in"}).content.decode()).values()
    )
    # The fragment swaps the messages in beside each field (out of band), not the inputs.
    assert 'id="rule-error-points" data-testid="rule-error-points" hx-swap-oob="true"' in (
        client.post("/loyalty/rules/validate/", GOOD).content.decode()
    )


def test_saving_answers_with_the_same_messages_and_keeps_the_draft_unchanged(
    udn_a, marketer, client_for, draft
):
    client = client_for(udn_a, marketer)
    response = client.post("/loyalty/rules/add/", {**GOOD, "event_type": "app_downloaded", "points": "0"})
    assert response.status_code == 400
    errors = _errors(response.content.decode())
    assert errors["points"] == "Os pontos devem ser maiores que zero."
    assert errors["points_kind"].startswith("Pontos por R$ precisam de um tipo de evento com valor")
    # A value the form cannot read, and the rule's faults with it, all at once.
    response = client.post(
        "/loyalty/rules/add/", {**GOOD, "event_type": "app_downloaded", "points": "muitos"}
    )
    errors = _errors(response.content.decode())
    assert errors["points"] == "Informe um número."
    assert errors["points_kind"].startswith("Pontos por R$ precisam de um tipo de evento com valor")
    # A code already in the draft: a message beside the code, not a server error.
    assert client.post("/loyalty/rules/add/", GOOD).status_code == 302
    response = client.post("/loyalty/rules/add/", {**GOOD, "name": "Outro"})
    assert response.status_code == 400
    assert _errors(response.content.decode())["code"] == "Outra regra deste rascunho já usa este código."
    checked = client.post("/loyalty/rules/validate/", {**GOOD, "name": "Outro"}).content.decode()
    assert _errors(checked)["code"] == "Outra regra deste rascunho já usa este código."
    with tenant_context(udn_a):
        assert list(Rule.objects.filter(rule_set=draft).values_list("name", flat=True)) == ["Depósito"]


def test_a_draft_rule_is_edited_in_place(udn_a, marketer, client_for, draft):
    with tenant_context(udn_a):
        rule = rule_save(
            rule_set=draft,
            data={**GOOD, "points": Decimal("1"), "limit_count": 1, "conditions": [], "plans": ["Ouro"]},
        )
    client = client_for(udn_a, marketer)
    page = client.get(f"/loyalty/rules/{rule.pk}/").content.decode()
    assert 'value="deposito"' in page and 'value="Ouro"' in page
    # Its own code is no clash while it is being edited.
    checked = client.post(
        "/loyalty/rules/validate/", {**GOOD, "rule": rule.pk, "points": "2"}
    ).content.decode()
    assert not any(_errors(checked).values())
    response = client.post(f"/loyalty/rules/{rule.pk}/", {**GOOD, "points": "2", "limit_period": "day"})
    assert response.status_code == 302
    with tenant_context(udn_a):
        rule.refresh_from_db()
        assert (rule.points, rule.limit_period, rule.plans) == (Decimal("2"), "day", [])
        assert Rule.objects.filter(rule_set=draft).count() == 1


def test_analysts_cannot_check_add_or_edit_rules(udn_a, analyst, client_for, draft):
    with tenant_context(udn_a):
        rule = rule_save(rule_set=draft, data={**GOOD, "points": Decimal("1"), "limit_count": 1})
    client = client_for(udn_a, analyst)
    page = client.get("/loyalty/rules/").content.decode()
    assert 'data-testid="rule-form"' not in page and 'data-testid="publish"' not in page
    assert client.post("/loyalty/rules/validate/", GOOD).status_code == 403
    assert client.post("/loyalty/rules/add/", {**GOOD, "code": "outra"}).status_code == 403
    assert client.get(f"/loyalty/rules/{rule.pk}/").status_code == 403
    assert client.post(f"/loyalty/rules/{rule.pk}/", {**GOOD, "points": "9"}).status_code == 403
    with tenant_context(udn_a):
        rule.refresh_from_db()
        assert rule.points == Decimal("1") and Rule.objects.filter(rule_set=draft).count() == 1
