"""A marketer builds a small journey in the browser (a blank journey, its steps written in the
draft's editor), publishes it, and watches the step counts move on the diagram's page as
affiliates are enrolled and the real worker advances them."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from campaigns.models import Enrollment, Journey, JourneyStepLog, Message, MessageTemplate
from campaigns.services.journeys import enrollment_create_manual
from crm.models import Affiliate
from tenants.models import UDN

pytestmark = [pytest.mark.browser]

GRAPH = {
    "triggers": [{"type": "manual", "start": "hello"}],
    "steps": [
        {
            "id": "hello",
            "type": "send",
            "channels": ["email"],
            "templates": {"email": "jornada-browser"},
            "next": "pause",
        },
        {"id": "pause", "type": "wait", "days": 2, "next": None},
    ],
}


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        JourneyStepLog.objects.filter(enrollment__journey__name="Jornada do browser").delete()
        Message.objects.filter(template__slug="jornada-browser").delete()
        Enrollment.objects.filter(journey__name="Jornada do browser").delete()
        Journey.objects.filter(name="Jornada do browser").delete()
        MessageTemplate.objects.filter(slug="jornada-browser").delete()
        Affiliate.objects.filter(external_id__startswith="JB-").delete()


def test_a_journey_built_and_published_in_the_browser_shows_its_counts_moving(
    page, web_server, celery_workers, committed
):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("jornadas.pessoa@alpha.test", udn=alpha)
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        MessageTemplate.objects.create(
            slug="jornada-browser", name="Jornada browser", channel="email", subject="Oi", body_text="Oi"
        )
        people = [
            Affiliate.objects.create(
                external_id=f"JB-{n}", name=f"Pessoa {n}", email=f"p{n}@jb.test", consent_email=True
            )
            for n in range(3)
        ]
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
    page.fill("input[name=name]", "Jornada do browser")
    page.fill("[data-testid=journey-graph]", json.dumps(GRAPH, indent=2))
    page.click("[data-testid=journey-save]")
    page.click("[data-testid=journey-publish]")
    expect(page.locator("[data-testid=journey-status]")).to_have_text("Em vigor")
    expect(page.locator("#journey-diagram canvas").first).to_be_visible()  # cytoscape drew it
    expect(page.locator('tr[data-step="pause"] [data-count=waiting]')).to_have_text("0")

    with tenant_context(alpha):
        journey = Journey.objects.get(name="Jornada do browser")
        assert journey.versions.count() == 1
        for person in people:  # enrolled as the API would; the worker advances them
            enrollment_create_manual(journey=journey, affiliate=person, key=f"browser-{person.pk}")

    # The page polls the counts: all three passed the send step and wait at the pause.
    expect(page.locator('tr[data-step="hello"] [data-count=passed]')).to_have_text("3", timeout=30_000)
    expect(page.locator('tr[data-step="pause"] [data-count=waiting]')).to_have_text("3", timeout=30_000)
    with tenant_context(alpha):
        assert Message.objects.filter(template__slug="jornada-browser").count() == 3
