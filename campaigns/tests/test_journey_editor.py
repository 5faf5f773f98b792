"""The journey editor's pages: each kind of step and trigger added through its form (never JSON),
edited, connected and deleted; journey_graph's errors shown in pt-BR beside the field they concern;
an incomplete draft cannot be published and the page says why; the diagram's positions saved with
the draft; and who may do it (an analyst reads the page without the editor, and its direct POSTs
are refused)."""

from __future__ import annotations

import json
import re

import pytest
from django_tenants.utils import tenant_context

from campaigns.journey_graph import graph_errors
from campaigns.models import Journey, MessageTemplate
from campaigns.services.journeys import journey_save
from crm.models import Segment


@pytest.fixture
def journey(udn_a):
    with tenant_context(udn_a):
        MessageTemplate.objects.create(
            slug="ed-email", name="Boas-vindas", channel="email", subject="Oi", body_text="Oi"
        )
        MessageTemplate.objects.create(slug="ed-sms", name="Lembrete", channel="sms", body_text="Oi")
        return journey_save(
            name="Jornada editada", graph={"triggers": [], "steps": []}, by="marina@alpha.test"
        )


def _draft(udn, journey) -> dict:
    with tenant_context(udn):
        return Journey.objects.get(pk=journey.pk).draft_graph


def _errors_of(html: str, field: str) -> list[str]:
    return re.findall(rf'data-field-error="{field}">([^<]*)<', html)


def test_a_journey_is_built_step_by_step_through_the_forms(udn_a, marketer, client_for, journey):
    client = client_for(udn_a, marketer)
    base = f"/journeys/{journey.pk}"
    htmx = {"HTTP_HX_REQUEST": "true"}
    form = client.get(f"{base}/new-step/send/", **htmx)
    assert form.status_code == 200
    assert 'name="template_1"' in form.content.decode() and "Boas-vindas · E-mail" in form.content.decode()

    saved = client.post(
        f"{base}/new-step/send/",
        {"id": "ola", "mode": "chain", "template_1": "ed-email", "template_2": "ed-sms"},
        **htmx,
    )
    assert saved.status_code == 200 and saved.headers["HX-Refresh"] == "true"
    response = client.post(f"{base}/new-trigger/event/", {"event": "account_opened", "start": "ola"})
    assert response.status_code == 302
    client.post(
        f"{base}/new-step/wait/", {"id": "espera", "after": "ola next", "amount": "2", "unit": "days"}
    )
    client.post(f"{base}/new-step/exit/", {"id": "fim", "after": "espera next"})

    graph = _draft(udn_a, journey)
    assert graph["triggers"] == [{"type": "event", "event": "account_opened", "start": "ola"}]
    assert graph["steps"] == [
        {
            "type": "send",
            "id": "ola",
            "channels": ["email", "sms"],
            "templates": {"email": "ed-email", "sms": "ed-sms"},
            "mode": "chain",
            "next": "espera",
        },
        {"type": "wait", "id": "espera", "days": 2, "next": "fim"},
        {"type": "exit", "id": "fim"},
    ]
    with tenant_context(udn_a):
        assert graph_errors(graph, templates={"ed-email", "ed-sms"}) == []
    page = client.get(f"{base}/").content.decode()
    assert 'data-testid="draft-ready"' in page
    assert 'data-draft-step="espera"' in page

    # Edit: the wait becomes 36 hours (shown back in hours), then the step is deleted and the
    # exit that led to it ends the journey there.
    edit = client.get(f"{base}/steps/espera/", **htmx).content.decode()
    assert 'name="amount" value="2"' in edit and '<option value="days" selected>' in edit
    client.post(f"{base}/steps/espera/", {"amount": "36", "unit": "hours", "next": "fim"})
    assert _draft(udn_a, journey)["steps"][1] == {"type": "wait", "id": "espera", "hours": 36, "next": "fim"}
    assert 'name="amount" value="36"' in client.get(f"{base}/steps/espera/", **htmx).content.decode()
    client.post(f"{base}/steps/espera/delete/")
    steps = _draft(udn_a, journey)["steps"]
    assert [s["id"] for s in steps] == ["ola", "fim"] and steps[0]["next"] is None


def test_every_kind_of_step_has_a_form_that_writes_a_valid_step(udn_a, marketer, client_for, journey):
    client = client_for(udn_a, marketer)
    base = f"/journeys/{journey.pk}"
    with tenant_context(udn_a):
        segment = Segment.objects.create(
            name="Clientes VIP",
            definition={"version": 1, "root": {"kind": "tags", "operator": "any", "value": ["vip"]}},
        )
    client.post(f"{base}/new-step/exit/", {"id": "fim"})
    posts = {
        "wait_until": {"id": "manha", "until": "09:30", "next": "fim"},
        "wait_event": {"id": "app", "event": "app_downloaded", "amount": "24", "unit": "hours", "yes": "fim"},
        "branch": {"id": "vip", "segment": str(segment.pk), "yes": "fim", "no": ""},
        "split": {
            "id": "ab",
            "arm_name_1": "A",
            "arm_percent_1": "50",
            "arm_next_1": "fim",
            "arm_name_2": "B",
            "arm_percent_2": "50",
        },
        "update": {"id": "marca", "add_tags": "vip, jornada", "attributes": "plano=anual", "next": "fim"},
        "webhook": {"id": "aviso", "url": "https://parceiro.example/hook", "next": "fim"},
    }
    for kind, data in posts.items():
        response = client.post(f"{base}/new-step/{kind}/", data)
        assert response.status_code == 302, (kind, response.content.decode()[:3000])
    steps = {s["id"]: s for s in _draft(udn_a, journey)["steps"]}
    assert steps["manha"] == {"type": "wait", "id": "manha", "until": "09:30", "next": "fim"}
    assert steps["app"] == {
        "type": "wait_event",
        "id": "app",
        "event": "app_downloaded",
        "hours": 24,
        "yes": "fim",
        "no": None,
    }
    assert steps["vip"]["condition"] == {
        "version": 1,
        "root": {"kind": "group", "op": "and", "conditions": [{"kind": "segment", "segment_id": segment.pk}]},
    }
    assert steps["ab"]["arms"] == [
        {"name": "A", "percent": 50, "next": "fim"},
        {"name": "B", "percent": 50, "next": None},
    ]
    assert steps["marca"]["add_tags"] == ["vip", "jornada"] and steps["marca"]["attributes"] == {
        "plano": "anual"
    }
    assert steps["aviso"]["url"] == "https://parceiro.example/hook"
    # The branch's form shows the saved segment chosen again.
    edit = client.get(f"{base}/steps/vip/").content.decode()
    assert f'<option value="{segment.pk}" selected>Clientes VIP</option>' in edit

    for kind, data in {
        "segment": {"segment": str(segment.pk), "start": "vip"},
        "date": {"date_field": "attribute", "attribute": "renovacao", "offset_days": "-7", "start": "manha"},
        "manual": {"start": "fim"},
    }.items():
        assert client.post(f"{base}/new-trigger/{kind}/", data).status_code == 302, kind
    triggers = _draft(udn_a, journey)["triggers"]
    assert triggers[1] == {
        "type": "date",
        "field": "attributes.renovacao",
        "offset_days": -7,
        "yearly": False,
        "start": "manha",
    }


def test_errors_come_back_in_portuguese_beside_their_fields(udn_a, marketer, client_for, journey):
    client = client_for(udn_a, marketer)
    base = f"/journeys/{journey.pk}"
    htmx = {"HTTP_HX_REQUEST": "true"}
    client.post(f"{base}/new-step/exit/", {"id": "fim"})

    split = client.post(
        f"{base}/new-step/split/",
        {"id": "ab", "arm_name_1": "A", "arm_percent_1": "60", "arm_name_2": "B", "arm_percent_2": "30"},
        **htmx,
    )
    html = split.content.decode()
    assert split.status_code == 200 and "HX-Refresh" not in split.headers
    assert _errors_of(html, "arms") == ["Os braços de “ab” têm percentuais positivos que somam 100."]

    wait = client.post(
        f"{base}/new-step/wait/", {"id": "longa", "amount": "401", "unit": "days"}, **htmx
    ).content.decode()
    assert _errors_of(wait, "amount") == ["O passo “longa” espera entre um minuto e 400 dias."]
    taken = client.post(f"{base}/new-step/exit/", {"id": "fim"}, **htmx).content.decode()
    assert _errors_of(taken, "id") == ["O id de passo “fim” aparece duas vezes."]
    webhook = client.post(f"{base}/new-step/webhook/", {"id": "w", "url": "ftp://x"}, **htmx).content.decode()
    assert _errors_of(webhook, "url") == ["O passo “w” chama um endereço http(s)."]
    send = client.post(f"{base}/new-step/send/", {"id": "s", "mode": "chain"}, **htmx).content.decode()
    assert _errors_of(send, "template_1") == ["Este campo é obrigatório."]
    branch = client.post(
        f"{base}/new-step/branch/",
        {"id": "b", "condition": '{"version": 1, "root": {"kind": "nada"}}'},
        **htmx,
    ).content.decode()
    assert (
        len(_errors_of(branch, "condition")) >= 1 and "condição" in _errors_of(branch, "condition")[0].lower()
    )
    trigger = client.post(f"{base}/new-trigger/event/", {"start": "fim"}, **htmx).content.decode()
    assert _errors_of(trigger, "event") == ["Este campo é obrigatório."]
    # Nothing of those was saved; without JavaScript the whole page answers, the form open.
    assert [s["id"] for s in _draft(udn_a, journey)["steps"]] == ["fim"]
    page = client.post(
        f"{base}/new-step/wait/", {"id": "longa", "amount": "0", "unit": "days"}
    ).content.decode()
    assert 'data-testid="journey-editor"' in page and _errors_of(page, "amount")


def test_an_incomplete_draft_cannot_be_published_and_the_page_says_why(udn_a, marketer, client_for, journey):
    client = client_for(udn_a, marketer)
    base = f"/journeys/{journey.pk}"
    client.post(f"{base}/new-step/exit/", {"id": "fim"})
    page = client.get(f"{base}/").content.decode()
    assert "Uma jornada precisa de pelo menos um gatilho." in page
    assert re.search(r'data-testid="journey-publish"\s+disabled', page)
    response = client.post(f"{base}/publish/", follow=True)
    assert "Uma jornada precisa de pelo menos um gatilho." in response.content.decode()
    with tenant_context(udn_a):
        assert not Journey.objects.get(pk=journey.pk).versions.exists()
    # A trigger left without its step when the step is deleted: the page names it.
    client.post(f"{base}/new-trigger/manual/", {"start": "fim"})
    client.post(f"{base}/steps/fim/delete/")
    assert _draft(udn_a, journey)["triggers"] == [{"type": "manual", "start": None}]
    assert "Uma jornada precisa de pelo menos um passo." in client.get(f"{base}/").content.decode()


def test_positions_are_saved_with_the_draft_and_drawn_back(udn_a, marketer, client_for, journey):
    client = client_for(udn_a, marketer)
    base = f"/journeys/{journey.pk}"
    client.post(f"{base}/new-step/exit/", {"id": "fim"})
    client.post(f"{base}/new-trigger/manual/", {"start": "fim"})
    response = client.post(
        f"{base}/positions/",
        json.dumps(
            {"trigger-0": {"x": 10.4, "y": 20}, "fim": {"x": 200, "y": 120}, "gone": {"x": 1, "y": 1}}
        ),
        content_type="application/json",
    )
    assert response.status_code == 200
    graph = _draft(udn_a, journey)
    assert graph["triggers"][0]["position"] == {"x": 10, "y": 20}
    assert graph["steps"][0]["position"] == {"x": 200, "y": 120}
    with tenant_context(udn_a):
        assert graph_errors(graph, templates=set()) == []
    # Editing the step keeps its place; a bad position is refused.
    client.post(f"{base}/steps/fim/", {})
    assert _draft(udn_a, journey)["steps"][0]["position"] == {"x": 200, "y": 120}
    bad = client.post(f"{base}/positions/", json.dumps({"fim": {"x": "a"}}), content_type="application/json")
    assert bad.status_code == 400
    page = client.get(f"{base}/").content.decode()
    elements = json.loads(
        re.search(r'id="journey-draft-elements" type="application/json">(.*?)</script>', page).group(1)
    )
    assert {n["data"]["id"]: n.get("position") for n in elements["nodes"]} == {
        "trigger-0": {"x": 10, "y": 20},
        "fim": {"x": 200, "y": 120},
    }


def test_the_settings_form_sets_the_goal_and_shows_its_errors(udn_a, marketer, client_for, journey):
    client = client_for(udn_a, marketer)
    base = f"/journeys/{journey.pk}"
    page = client.post(f"{base}/edit/", {"name": " ", "holdout_percent": "80"}).content.decode()
    assert _errors_of(page, "name") == ["Dê um nome à jornada."]
    assert _errors_of(page, "holdout_percent") == ["O grupo de controle vai de 0% a 50%."]
    client.post(f"{base}/edit/", {"name": "Boas-vindas", "goal_event": "cash_in", "holdout_percent": "10"})
    with tenant_context(udn_a):
        saved = Journey.objects.get(pk=journey.pk)
    assert (saved.name, saved.goal_event, saved.holdout_percent) == ("Boas-vindas", "cash_in", 10)
    # The JSON ("Avançado") still saves the whole graph; a broken JSON is shown beside it.
    broken = client.post(f"{base}/edit/", {"graph": "{nope"}).content.decode()
    assert _errors_of(broken, "graph")[0].startswith("O grafo não é um JSON válido")


def test_an_analyst_reads_the_journey_but_cannot_edit_it(udn_a, analyst, marketer, client_for, journey):
    client = client_for(udn_a, analyst)
    base = f"/journeys/{journey.pk}"
    page = client.get(f"{base}/")
    assert page.status_code == 200
    assert 'data-testid="journey-editor"' not in page.content.decode()
    for url, data in [
        (f"{base}/new-step/exit/", {"id": "fim"}),
        (f"{base}/new-trigger/manual/", {"start": "fim"}),
        (f"{base}/edit/", {"name": "Outra"}),
        (f"{base}/positions/", {}),
        (f"{base}/publish/", {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert client.get(f"{base}/new-step/exit/").status_code == 403
    client_for(udn_a, marketer).post(f"{base}/new-step/exit/", {"id": "fim"})
    assert client.post(f"{base}/steps/fim/", {}).status_code == 403
    assert client.post(f"{base}/steps/fim/delete/").status_code == 403
    assert [s["id"] for s in _draft(udn_a, journey)["steps"]] == ["fim"]
    with tenant_context(udn_a):
        assert Journey.objects.get(pk=journey.pk).name == "Jornada editada"


def test_an_outsider_cannot_reach_the_editor(udn_a, outsider, client_for, journey):
    response = client_for(udn_a, outsider).post(f"/journeys/{journey.pk}/new-step/exit/", {"id": "fim"})
    assert response.status_code == 403
