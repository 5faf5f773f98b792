"""Content-Security-Policy and no-store caching on the pages and files that carry personal data."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from crm.models import Affiliate


@pytest.fixture
def ana(udn_a) -> Affiliate:
    with tenant_context(udn_a):
        return Affiliate.objects.create(external_id="S-1", name="Ana Souza", cpf="12345678909")


def test_every_page_sends_a_csp_that_allows_no_inline_script_without_its_nonce(
    udn_a, marketer, ana, client_for
):
    response = client_for(udn_a, marketer).get("/affiliates/")

    policy = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    html = response.content.decode()
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        assert "src=" in tag or "nonce=" in tag, tag


def test_the_quality_page_style_block_carries_the_header_nonce(udn_a, marketer, client_for):
    response = client_for(udn_a, marketer).get("/quality/")

    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">' in response.content.decode()


def test_swagger_ui_inline_parts_carry_the_nonce(udn_a, client_for):
    response = client_for(udn_a).get("/api/v1/docs/")

    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    html = response.content.decode()
    assert html.count(f'nonce="{nonce}"') >= 3
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        assert f'nonce="{nonce}"' in tag, tag


@pytest.mark.parametrize("path", ["/affiliates/", "/affiliates/export.csv", "/", "/imports/"])
def test_pages_and_exports_with_personal_data_are_never_stored(path, udn_a, marketer, ana, client_for):
    response = client_for(udn_a, marketer).get(path)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_affiliate_page_is_never_stored(udn_a, marketer, ana, client_for):
    response = client_for(udn_a, marketer).get(f"/affiliates/{ana.pk}/")

    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_the_partner_api_is_never_stored(udn_a, client_for):
    response = client_for(udn_a).get("/api/v1/affiliates/")

    assert "no-store" in response["Cache-Control"]
