"""Helpers several CRM test modules share (not a test module: nothing here is collected)."""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from crm.tests.factories import ApiKeyFactory
from tenants.models import UDN

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"  # screenshots, process logs (not committed)
FIXTURES = Path(__file__).parent / "fixtures"
UGLY = FIXTURES / "ugly_affiliates_cp1252.csv"  # the messy Windows-1252, semicolon-separated base

ALL_SCOPES = ["affiliates:read", "events:write"]


def make_key(udn: UDN, scopes: list[str] | None = None, name: str = "App backend") -> str:
    """A new API key of `udn`, in clear."""
    with tenant_context(udn):
        return ApiKeyFactory(name=name, scopes=scopes or ALL_SCOPES).token


class Api:
    """A client on a UDN's host that speaks JSON with a key."""

    def __init__(self, udn: UDN, key: str | None, language: str = "en") -> None:
        self.client = Client(HTTP_HOST=udn.get_primary_domain().domain)  # type: ignore[union-attr]
        self.headers = {"HTTP_ACCEPT_LANGUAGE": language}
        if key is not None:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"

    def get(self, path: str, params: dict | None = None, **extra):
        return self.client.get(path, params or {}, **self.headers, **extra)

    def post(self, path: str, body, *, raw: bool = False, **extra):
        data = body if raw else json.dumps(body)
        return self.client.post(path, data, content_type="application/json", **self.headers, **extra)

    def call(self, method: str, path: str, body):
        return self.get(path) if method == "get" else self.post(path, body)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field", "details"}
    return body["error"]


def resolving(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> list[str]:
    """Make `names` resolve to the given addresses (the DNS a partner controls); every other
    name resolves as usual. Returns the names looked up, in order (IP literals, which need no
    lookup, are left out)."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):  # noqa: ANN001, ANN202 - socket's signature
        try:
            ipaddress.ip_address(host)
        except ValueError:
            asked.append(host)
        return real(names.get(host, host), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked
