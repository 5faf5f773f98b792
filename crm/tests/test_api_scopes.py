"""The scopes of the apps built on the core (journeys:read, journeys:write, spend:write): offered
on the keys page in Portuguese and by create_api_key, and keys made before they existed keep what
they could do (the migration grants them from the scopes the endpoints borrowed)."""

from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from crm.models import ApiKey
from crm.tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

NEW_SCOPES = ("journeys:read", "journeys:write", "spend:write")


def test_the_keys_page_offers_the_new_scopes_in_portuguese(udn_a, marketer, client_for):
    web = client_for(udn_a, marketer)
    page = web.get("/api-keys/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    for scope in NEW_SCOPES:
        assert f'value="{scope}"' in page
    assert "Inscrever afiliados em jornadas" in page
    assert "Ler inscrições em jornadas e seu histórico" in page
    assert "Enviar investimento em marketing" in page

    assert web.post("/api-keys/new/", {"name": "BI", "scopes": ["spend:write"]}).status_code == 302
    with tenant_context(udn_a):
        assert ApiKey.objects.get(name="BI").scopes == ["spend:write"]
    listed = web.get("/api-keys/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert 'data-scope="spend:write">Enviar investimento em marketing<' in listed


def test_create_api_key_takes_the_new_scopes(udn_a):
    out = StringIO()
    call_command("create_api_key", udn="alpha", scopes="journeys:write,journeys:read,spend:write", stdout=out)
    with tenant_context(udn_a):
        made = ApiKey.objects.get()
    assert sorted(made.scopes) == sorted(NEW_SCOPES)


def test_keys_made_before_keep_the_journeys_and_spend_endpoints(udn_a):
    migration = importlib.import_module("crm.migrations.0016_journey_and_spend_scopes")
    with tenant_context(udn_a):
        writer = ApiKeyFactory(name="app", scopes=["events:write"])
        reader = ApiKeyFactory(name="bi", scopes=["affiliates:read"])
        other = ApiKeyFactory(name="hooks", scopes=["webhooks:manage"])
        both = ApiKeyFactory(name="both", scopes=["events:write", "journeys:write"])
        with connection.schema_editor() as editor:
            migration.keys_keep_their_access(apps, editor)
        for key in (writer, reader, other, both):
            key.refresh_from_db()
        assert writer.scopes == ["events:write", "journeys:write", "spend:write"]
        assert reader.scopes == ["affiliates:read", "journeys:read"]
        assert other.scopes == ["webhooks:manage"]
        assert both.scopes == ["events:write", "journeys:write", "spend:write"]  # no scope twice
        with connection.schema_editor() as editor:
            migration.keys_lose_the_new_scopes(apps, editor)
        writer.refresh_from_db()
        assert writer.scopes == ["events:write"]
