"""A marketer builds a small journey in the browser through the editor's forms, without typing
any JSON (a trigger on an event → a send → a wait → an exit), places a step by dragging it on the
diagram, publishes it, and watches the step counts move on the diagram's page when an event for an
affiliate is posted to the API and the real worker advances the enrollment."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from campaigns.models import Enrollment, Journey, JourneyStepLog, Message, MessageTemplate
from crm.models import Affiliate, ApiKey, Event
from crm.tests.helpers import make_key
from tenants.models import UDN

pytestmark = [pytest.mark.browser]

NAME = "Jornada do browser"


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        JourneyStepLog.objects.filter(enrollment__journey__name=NAME).delete()
        Message.objects.filter(template__slug="jornada-browser").delete()
        Enrollment.objects.filter(journey__name=NAME).delete()
        Journey.objects.filter(name=NAME).delete()
        MessageTemplate.objects.filter(slug="jornada-browser").delete()
        Event.objects.filter(affiliate__external_id__startswith="JB-").delete()
        Affiliate.objects.filter(external_id__startswith="JB-").delete()
        ApiKey.objects.filter(name="Jornada browser").delete()


def _save_form(page: Page) -> None:
    """Save the form open in the editor's panel; the page reloads with the change."""
    with page.expect_navigation():
        page.click("#journey-editor-panel [data-testid=step-save]")


def _open(page: Page, testid: str) -> None:
    page.click(f"[data-testid={testid}]")
    expect(page.locator("#journey-editor-panel [data-testid=step-form]")).to_be_visible()


def _node_point(page: Page, node: str) -> tuple[float, float]:
    """Where a node of the draft's diagram is on the page."""
    box = page.locator("#journey-draft-diagram").bounding_box()
    assert box is not None
    at = page.evaluate(
        "id => window.journeyDiagrams['journey-draft-diagram'].getElementById(id).renderedPosition()", node
    )
    return box["x"] + at["x"], box["y"] + at["y"]


def test_a_journey_built_with_the_editor_and_published_shows_its_counts_moving(
    page, web_server, celery_workers, committed
):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("jornadas.pessoa@alpha.test", udn=alpha, first_name="Marina")
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        MessageTemplate.objects.create(
            slug="jornada-browser", name="Jornada browser", channel="email", subject="Oi", body_text="Oi"
        )
        person = Affiliate.objects.create(
            external_id="JB-1", name="Pessoa do app", email="p1@jb.test", consent_email=True
        )
    key = make_key(alpha, ["events:write"], name="Jornada browser")
    base = f"http://alpha.localhost:{web_server}"
    page.goto(f"{base}/accounts/login/?next=/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.click("nav.mainnav summary >> text=Mensagens")
    page.click("nav.mainnav >> text=Jornadas")
    page.wait_for_url(f"{base}/journeys/")
    page.click("[data-testid=journey-new-blank]")
    page.wait_for_url(f"{base}/journeys/*/")
    expect(page.locator("[data-testid=journey-publish]")).to_be_disabled()  # nothing in it yet

    # A send step: the template chosen from the list (its channel comes with it).
    _open(page, "add-step-send")
    page.select_option("#journey-editor-panel select[name=template_1]", "jornada-browser")
    _save_form(page)
    expect(page.locator('tr[data-draft-step="send-1"]')).to_be_visible()
    # The trigger: an event from the UDN's event types, starting at the send step.
    _open(page, "add-trigger-event")
    page.select_option("#journey-editor-panel select[name=event]", "app_downloaded")
    page.select_option("#journey-editor-panel select[name=start]", "send-1")
    _save_form(page)
    # A wait of two days after the send, then the exit after the wait.
    _open(page, "add-step-wait")
    page.select_option("#journey-editor-panel select[name=after]", "send-1 next")
    page.fill("#journey-editor-panel input[name=amount]", "2")
    page.select_option("#journey-editor-panel select[name=unit]", "days")
    _save_form(page)
    _open(page, "add-step-exit")
    page.select_option("#journey-editor-panel select[name=after]", "wait-1 next")
    _save_form(page)
    expect(page.locator("[data-testid=draft-ready]")).to_be_visible()
    page.fill("#j-name", NAME)
    page.click("[data-testid=journey-save]")

    # The draft's diagram: labels in pt-BR, no counts (nothing published), never zoomed below
    # a readable size (12px text drawn at 10px at least).
    drawn = page.evaluate(
        "() => { const cy = window.journeyDiagrams['journey-draft-diagram'];"
        " return { zoom: cy.zoom(), labels: cy.nodes().map(n => n.data('display')) }; }"
    )
    assert drawn["zoom"] >= 10 / 12 - 0.001
    assert sorted(drawn["labels"]) == [
        "Gatilho: App baixado",
        "exit-1 (Saída)",
        "send-1 (Enviar mensagem)",
        "wait-1 (Esperar)",
    ]
    # The diagram: a click on a step opens its form; dragging it saves where it stands.
    x, y = _node_point(page, "exit-1")
    page.mouse.click(x, y)
    expect(page.locator("#journey-editor-panel [data-testid=step-form]")).to_have_attribute(
        "data-kind", "exit"
    )
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=8)
    page.mouse.up()
    expect(page.locator("#journey-draft-diagram")).to_have_attribute("data-saved", "1")
    with tenant_context(alpha):
        draft = Journey.objects.get(name=NAME).draft_graph
    assert all("position" in item for item in draft["steps"] + draft["triggers"])

    page.click("[data-testid=journey-publish]")
    expect(page.locator("[data-testid=journey-status]")).to_have_text("Em vigor")
    expect(page.locator("#journey-diagram canvas").first).to_be_visible()  # cytoscape drew it
    expect(page.locator('tr[data-step="wait-1"] [data-count=waiting]')).to_have_text("0")
    with tenant_context(alpha):
        assert Journey.objects.get(name=NAME).versions.get().graph["triggers"][0]["event"] == "app_downloaded"

    # The affiliate downloads the app: the partner posts the event; the real worker enrols them.
    event = {
        "id": "jb-app-1",
        "type": "app_downloaded",
        "occurred_at": datetime.now(UTC).isoformat(),
        "affiliate": {"external_id": "JB-1"},
    }
    request = urllib.request.Request(  # the partner's backend: straight to the web server, no browser
        f"http://127.0.0.1:{web_server}/api/v1/events/",
        data=json.dumps(event).encode(),
        headers={
            "Host": "alpha.localhost",
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - a local test server
        assert response.status == 201

    # The page polls the counts: the send step was passed and the affiliate waits at the wait.
    expect(page.locator('tr[data-step="send-1"] [data-count=passed]')).to_have_text("1", timeout=30_000)
    expect(page.locator('tr[data-step="wait-1"] [data-count=waiting]')).to_have_text("1", timeout=30_000)
    assert (
        page.evaluate(
            "() => window.journeyDiagrams['journey-diagram'].getElementById('wait-1').data('waiting')"
        )
        == 1
    )
    with tenant_context(alpha):
        assert Message.objects.filter(template__slug="jornada-browser", affiliate=person).count() == 1
