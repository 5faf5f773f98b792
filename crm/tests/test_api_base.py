"""crm.api.base: another app mounts endpoints under /api/v1/ through the registry (the CRM never
imports it), and they get the base's key, scopes, error format and schema."""

from __future__ import annotations

import sys
import types

import pytest
from django.urls import include, path

from crm.api import base
from crm.api.urls import api_urlpatterns
from crm.tests.helpers import Api, error_of, make_key


@pytest.fixture
def plugin_mounted(monkeypatch, settings) -> None:
    """A fresh registry holding the plugin, and a tenant urlconf built from it (as urls_tenant
    includes crm.api.urls)."""
    monkeypatch.setattr(base, "_REGISTERED", [])
    base.api_urls_register(prefix="plugin/", urlconf="crm.tests.api_plugin_urls")
    base.api_urls_register(prefix="plugin/", urlconf="crm.tests.api_plugin_urls")  # twice: harmless
    urlconf = types.ModuleType("w2e_plugin_urlconf")
    urlconf.urlpatterns = [path("api/v1/", include(api_urlpatterns()))]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, urlconf.__name__, urlconf)
    settings.ROOT_URLCONF = urlconf.__name__


def test_a_registered_app_endpoint_is_served_with_the_base_behaviour(udn_a, plugin_mounted):
    api = Api(udn_a, make_key(udn_a, ["affiliates:read"]))

    answered = api.post("/api/v1/plugin/echo/", {"word": "oi"})
    unknown = api.post("/api/v1/plugin/echo/", {"word": "oi", "extra": 1})
    anonymous = Api(udn_a, None).post("/api/v1/plugin/echo/", {"word": "oi"})
    no_scope = Api(udn_a, make_key(udn_a, ["events:write"])).post("/api/v1/plugin/echo/", {"word": "oi"})
    elsewhere = api.get("/api/v1/plugin/nothing-here/")

    assert answered.status_code == 200 and answered.json()["word"] == "oi"
    assert answered.json()["key"].startswith("api:")
    assert unknown.status_code == 400 and (error_of(unknown)["code"], error_of(unknown)["field"]) == (
        "unknown_field",
        "extra",
    )
    assert anonymous.status_code == 401 and error_of(anonymous)["code"] == "not_authenticated"
    assert no_scope.status_code == 403 and error_of(no_scope)["code"] == "insufficient_scope"
    assert elsewhere.status_code == 404 and error_of(elsewhere)["code"] == "not_found"
    assert len(base.registered_api_urls()) == 1


def test_a_registered_app_endpoint_is_in_the_published_schema(udn_a, plugin_mounted):
    api = Api(udn_a, make_key(udn_a, ["affiliates:read"]))

    schema = api.get("/api/v1/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/plugin/echo/"]["post"]
    assert operation["operationId"] == "plugin_echo"
    body = schema["components"]["schemas"]["EchoIn"]
    assert body["additionalProperties"] is False and body["required"] == ["word"]
    assert "/api/v1/affiliates/" in schema["paths"]
