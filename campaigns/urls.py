"""Messaging pages of a UDN's space (included by crm/urls_tenant.py by name, so the CRM core
imports nothing of this app). Each part of messaging adds its pages here: templates, channels,
campaigns, the sandbox outbox, provider hooks."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
