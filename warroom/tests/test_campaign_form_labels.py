"""The joint/cross-sell campaign form reads as pt-BR: capitalised labels without colons, a
promoting-UDN prompt instead of "---------", a title that fits either kind; the calendar's status
filter agrees in gender (a campanha: "Pausada", "Cancelada")."""

from __future__ import annotations

import re


def test_the_campaign_form_has_capitalised_labels_a_prompt_and_a_neutral_title(coordinator, client_for):
    page = client_for(user=coordinator).get("/warroom/campaigns/new/").content.decode()
    labels = dict(re.findall(r'<label for="id_(\w+)"[^>]*>([^<]*)</label>', page))
    assert labels["kind"] == "Tipo" and labels["name"] == "Nome", labels
    assert labels["promoting_udn"] == "UDN promotora", labels
    assert all(label[:1].isupper() and not label.endswith(":") for label in labels.values()), labels
    assert '<option value="" selected>Escolha a UDN promotora</option>' in page
    assert "---------" not in page
    assert "<h1>Nova campanha</h1>" in page and "campanha conjunta" not in page.split("<h1>", 1)[1][:60]


def test_the_calendars_status_filter_agrees_in_gender(coordinator, client_for):
    page = client_for(user=coordinator).get("/warroom/calendar/?month=2026-03").content.decode()
    select = page.split('id="f-status"', 1)[1].split("</select>", 1)[0]
    options = dict(re.findall(r'<option value="(\w+)"[^>]*>([^<]*)</option>', select))
    assert options["paused"] == "Pausada" and options["cancelled"] == "Cancelada", options
    assert options["done"] == "Concluída" and options["archived"] == "Arquivada", options
    assert "Pausado" not in options.values()
