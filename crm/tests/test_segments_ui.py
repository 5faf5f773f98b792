"""Segments in the UDN's space: the list (search, empty state, counts with their time), the
builder's live count and sample, saving with errors named, who may do what, and in the browser a
marketer building a segment while the count follows."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Affiliate, Segment
from crm.services.segments import segment_save
from tenants.models import UDN

NOW = datetime(2026, 6, 10, 14, 30, tzinfo=timezone.get_fixed_timezone(-180))


def _tree(*conditions: dict) -> dict:
    return {"version": 1, "root": {"kind": "group", "op": "and", "conditions": list(conditions)}}


RECIFE = _tree({"kind": "field", "field": "city", "operator": "eq", "value": "Recife"})


@pytest.fixture
def people(udn_a):
    with tenant_context(udn_a):
        for n in range(25):
            Affiliate.objects.create(
                external_id=f"UI-R{n:02d}", name=f"Recifense {n:02d}", city="Recife", state="PE"
            )
        Affiliate.objects.create(external_id="UI-N", name="Natalense", city="Natal", state="RN")


def test_the_list_is_empty_then_shows_each_segment_with_its_count_and_time(
    udn_a, marketer, client_for, people
):
    client = client_for(udn_a, marketer)
    empty = client.get("/segments/")
    assert empty.status_code == 200
    assert 'data-testid="segment-empty"' in empty.content.decode()
    assert "Nenhum segmento ainda" in empty.content.decode()
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        segment_save(name="Recife", definition=RECIFE, by="marketing@alpha.test")
        segment_save(
            name="Natal",
            definition=_tree({"kind": "field", "field": "city", "operator": "eq", "value": "Natal"}),
            by="x",
        )
    page = client.get("/segments/").content.decode()
    assert "Recife" in page and "<strong>25</strong>" in page
    assert "contados em 10/06/2026 14:30" in page
    assert 'href="/segments/"' in client.get("/").content.decode()  # in the menu
    found = client.get("/segments/", {"q": "nat"}).content.decode()
    assert "Natal" in found and "Recife</a>" not in found
    assert "Nenhum segmento com nome parecido com" in client.get("/segments/", {"q": "zzz"}).content.decode()


def test_the_live_count_and_sample_follow_the_conditions(udn_a, analyst, client_for, people):
    client = client_for(udn_a, analyst)  # reading is enough
    response = client.post("/segments/preview/", {"definition": json.dumps(RECIFE)})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-count="25"' in body and "<strong>25</strong> afiliados" in body
    assert body.count("<tr>") == 1 + 20  # the header and a sample of 20
    assert "Recifense 00" in body and "UI-R00" in body and "Ativado" not in body and "Lead" in body
    assert "Mostrando os primeiros 20 por nome." in body

    one = client.post(
        "/segments/preview/",
        {
            "definition": json.dumps(
                _tree({"kind": "field", "field": "city", "operator": "eq", "value": "Natal"})
            )
        },
    )
    assert "<strong>1</strong> afiliado<" in one.content.decode()

    bad = client.post(
        "/segments/preview/",
        {"definition": json.dumps(_tree({"kind": "stage", "operator": "in", "value": ["nope"]}))},
    )
    assert "Condição 1 (estágio): estágio desconhecido." in bad.content.decode()
    assert (
        "não estão no formato esperado"
        in client.post("/segments/preview/", {"definition": "{"}).content.decode()
    )


def test_marketers_save_analysts_only_read(udn_a, marketer, analyst, client_for, people):
    reader = client_for(udn_a, analyst)
    assert reader.get("/segments/new/").status_code == 403
    data = {"name": "Recife", "description": "", "definition": json.dumps(RECIFE)}
    assert reader.post("/segments/new/", data).status_code == 403
    with tenant_context(udn_a):
        assert not Segment.objects.exists()

    writer = client_for(udn_a, marketer)
    page = writer.get("/segments/new/").content.decode()
    assert 'id="segment-vocabulary"' in page and "js/segments.js" in page and "<script>" not in page
    saved = writer.post("/segments/new/", data)
    with tenant_context(udn_a):
        segment = Segment.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/segments/{segment.pk}/"
    assert segment.member_count == 25 and segment.updated_by == marketer.email

    # The analyst opens it read-only (no save button); saving it is refused.
    opened = reader.get(f"/segments/{segment.pk}/").content.decode()
    assert "data-readonly" in opened and 'data-testid="segment-save"' not in opened
    assert reader.post(f"/segments/{segment.pk}/", {**data, "name": "Outro"}).status_code == 403

    # Errors come back on the page, each condition named, what was typed kept.
    broken = {
        **data,
        "name": "Recife",
        "definition": json.dumps(_tree({"kind": "tier", "operator": "in", "value": ["Platina"]})),
    }
    refused = writer.post("/segments/new/", broken)
    assert refused.status_code == 422
    text = refused.content.decode()
    assert "Outro segmento já tem este nome." in text and "Condição 1 (faixa): faixa desconhecida." in text
    assert "Platina" in text


def test_another_udns_segment_is_not_found(udn_a, udn_b, marketer, client_for):
    with tenant_context(udn_b):
        theirs = segment_save(name="Deles", definition=RECIFE, by="x")
    assert client_for(udn_a, marketer).get(f"/segments/{theirs.pk}/").status_code == 404


@pytest.mark.browser
@pytest.mark.worker
def test_a_marketer_builds_a_segment_and_the_count_follows(page, web_server, committed):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("segmentos.pessoa@alpha.test", udn=alpha)
    committed.append(user.delete)

    def clean() -> None:
        with tenant_context(alpha):
            Segment.objects.filter(name="Recife no navegador").delete()
            Affiliate.objects.filter(external_id__startswith="SB-").delete()

    committed.append(clean)
    with tenant_context(alpha):
        for n in range(3):
            Affiliate.objects.create(
                external_id=f"SB-{n}", name=f"Sbrowser {n}", city="Recife", state="PE", tags=["sb"]
            )
        Affiliate.objects.create(external_id="SB-X", name="Sbrowser X", city="Natal", tags=["sb"])
    base = f"http://alpha.localhost:{web_server}"
    page.goto(f"{base}/accounts/login/?next=/segments/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/segments/")
    page.click("[data-testid=segment-new]")

    # Condition 1: tags has any of "sb" → 4.
    page.click("[data-role=add-condition]")
    page.select_option("[data-testid=segment-condition] [data-role=kind]", "tags")
    page.fill("[data-testid=segment-condition] input[aria-label]", "sb")
    count = page.locator("[data-testid=segment-live-count]")
    page.locator("[data-testid=segment-live-count][data-count='4']").wait_for(timeout=15_000)
    # Condition 2: city is "recife" (accents and case ignored) → 3, with the sample.
    page.click("[data-role=add-condition]")
    second = page.locator("[data-testid=segment-condition]").nth(1)
    second.locator("[data-role=value]").fill("recife")
    page.locator("[data-testid=segment-live-count][data-count='3']").wait_for(timeout=15_000)
    assert page.locator("[data-testid=segment-sample] tbody tr").count() == 3
    # NOT on it → 1.
    second.locator("[data-role=negate]").check()
    page.locator("[data-testid=segment-live-count][data-count='1']").wait_for(timeout=15_000)
    assert re.fullmatch(r"1 afiliado", count.inner_text())
    second.locator("[data-role=negate]").uncheck()
    page.locator("[data-testid=segment-live-count][data-count='3']").wait_for(timeout=15_000)

    page.fill("#id_name", "Recife no navegador")
    page.click("[data-testid=segment-save]")
    page.wait_for_url(re.compile(r".*/segments/\d+/$"))
    assert "3 afiliados, contados em" in page.locator("[data-testid=segment-stored-count]").inner_text()
    # The saved segment's page counts as it opens ("Quem atende agora"), with no edit.
    page.locator("[data-testid=segment-live-count][data-count='3']").wait_for(timeout=15_000)
    with tenant_context(alpha):
        stored = Segment.objects.get(name="Recife no navegador")
    assert [c["kind"] for c in stored.definition["root"]["conditions"]] == ["tags", "field"]
