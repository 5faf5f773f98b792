"""A marketer creates a campaign in the browser from a filter of the affiliate list, launches it,
watches its progress bar reach "Concluída" (the real fan-out worker on the long queue, the real
sender on the default queue, the real sandbox) and finds the messages in "Caixa de saída"."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from campaigns.models import Campaign, Message, MessageTemplate, SandboxMessage
from crm.models import Affiliate
from tenants.models import UDN

pytestmark = [pytest.mark.browser]

TAG = "campanha-browser"


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        Message.objects.filter(campaign__name="Boas-vindas browser").delete()
        Campaign.objects.filter(name="Boas-vindas browser").delete()
        MessageTemplate.objects.filter(slug="boas-vindas-browser").delete()
        SandboxMessage.objects.filter(to__endswith="@campanha-browser.test").delete()
        Affiliate.objects.filter(tags__contains=[TAG]).delete()


def test_a_campaign_created_and_launched_in_the_browser_reaches_the_outbox(
    page, web_server, celery_workers, sandbox_process, committed
):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("campanhas.pessoa@alpha.test", udn=alpha)
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        for n, name in enumerate(("Ana Lima", "Bruno Souza", "Carla Dias")):
            Affiliate.objects.create(
                external_id=f"CB-{n}",
                name=name,
                email=f"pessoa{n}@campanha-browser.test",
                consent_email=True,
                tags=[TAG],
            )
        # In the list's filter but without consent: a suppressed row, nothing in the outbox.
        Affiliate.objects.create(
            external_id="CB-9", name="Davi Sem Consentimento", email="davi@campanha-browser.test", tags=[TAG]
        )
        MessageTemplate.objects.create(
            slug="boas-vindas-browser",
            name="Boas-vindas browser",
            channel="email",
            subject="Bem-vindo, {{ primeiro_nome }}",
            body_text="Olá, {{ primeiro_nome }}!",
            body_html="<p>Olá, {{ primeiro_nome }}!</p>",
        )
    base = f"http://alpha.localhost:{web_server}"

    page.goto(f"{base}/accounts/login/?next=/affiliates/?tag={TAG}")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/affiliates/?tag={TAG}")
    assert page.locator("[data-testid=result-count]").get_attribute("data-count") == "4"

    page.click("nav.mainnav summary >> text=Mensagens")  # the menu's Mensagens group
    page.click("nav.mainnav >> text=Campanhas")
    page.wait_for_url(f"{base}/campaigns/")
    page.locator("[data-testid=campaigns-empty]").or_(page.locator("[data-testid=campaign-table]")).wait_for()
    page.click("[data-testid=campaign-new]")
    page.wait_for_url(f"{base}/campaigns/new/")
    page.fill("#id_name", "Boas-vindas browser")
    # The list's filter, remembered from the list page, with its live count.
    page.click("[data-testid=use-list-filter]")
    assert page.input_value("[data-testid=audience-query]") == f"tag={TAG}"
    page.locator("[data-testid=audience-count][data-count='4']").wait_for()
    page.select_option("#id_channel_1", "email")
    page.select_option("#id_template_email", label="Boas-vindas browser")
    page.click("[data-testid=campaign-save]")
    page.wait_for_url(f"{base}/campaigns/*/")
    assert page.locator("[data-testid=progress-status]").inner_text() == "Rascunho"

    page.click("[data-testid=campaign-launch]")
    page.locator("[data-testid=campaign-progress][data-status='done']").wait_for(timeout=60_000)
    assert page.locator("[data-testid=campaign-progress]").get_attribute("data-percent") == "100"

    page.click("[data-testid=campaign-results-link]")
    page.locator("[data-testid=funnel-table]").wait_for()
    assert page.locator("tr[data-channel=email] [data-step=sent]").inner_text() in ("3", "3")
    assert page.locator("[data-testid=suppressed-row]").inner_text().startswith("Sem consentimento")

    page.goto(f"{base}/sandbox/outbox/")
    messages = page.locator("[data-testid=outbox-message]", has_text="campanha-browser.test")
    messages.first.wait_for()
    assert messages.count() == 3
    assert page.locator("[data-testid=outbox-subject]", has_text="Bem-vindo, Ana").count() == 1
    assert "davi@campanha-browser.test" not in page.content()
