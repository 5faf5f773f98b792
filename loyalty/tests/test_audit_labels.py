"""Loyalty's audit entries read in pt-BR on the CRM's audit page (crm.audit_labels, registered in
LoyaltyConfig.ready()): the action, what it is about and its details, and the page's filters
offer loyalty's actions and targets."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from django_tenants.utils import tenant_context

from loyalty.models import Reward
from loyalty.services.catalogue import budget_month_set, reward_retire
from loyalty.services.ledger import points_adjust
from loyalty.tests.helpers import affiliate, programme


def test_loyalty_entries_and_filters_on_the_audit_page_are_in_portuguese(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        programme()
        who = affiliate()
        points_adjust(affiliate=who, points=150, reason="boas-vindas", by="x")
        budget_month_set(month=date(2099, 1, 1), budget=Decimal("2500"))
        reward = Reward.objects.create(
            name="Consulta", kind="consultation", points_price=100, cost=Decimal("5")
        )
        reward_retire(reward=reward)
    client = client_for(udn_a, marketer)

    html = client.get("/audit/", {"action": "loyalty.adjusted"}).content.decode()
    rows = re.findall(r'<tr data-testid="audit-entry".*?</tr>', html, flags=re.S)
    assert len(rows) == 1
    assert "<td>Fidelidade: pontos ajustados</td>" in rows[0]  # the code only in data-action
    assert rows[0].count("loyalty.adjusted") == 1 and 'data-action="loyalty.adjusted"' in rows[0]
    assert "pontos" in rows[0] and "motivo" in rows[0] and "lançamento no extrato" in rows[0]
    options = html.replace(" selected", "")
    assert '<option value="loyalty.adjusted">Fidelidade: pontos ajustados</option>' in options
    assert '<option value="loyalty.mission_deleted">Fidelidade: missão excluída</option>' in options
    assert '<option value="message_template.created">Modelo de mensagem criado</option>' in options
    assert '<option value="loyalty_reward">Recompensa</option>' in options

    html = client.get("/audit/").content.decode()
    assert "<td>Fidelidade: orçamento do mês alterado</td>" in html
    assert "<td>Fidelidade: recompensa excluída</td>" in html and "Recompensa #" in html

    html = client.get("/audit/", {"target_type": "loyalty_budget"}).content.decode()
    assert len(re.findall(r'<tr data-testid="audit-entry"', html)) == 1
    assert "Orçamento de recompensas #2099-01" in html and '<span class="muted">orçamento:</span>' in html
