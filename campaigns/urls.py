"""Messaging pages of a UDN's space (included by crm/urls_tenant.py by name, so the CRM core
imports nothing of this app). Each part of messaging adds its pages here: templates, channels,
campaigns, the sandbox outbox, provider hooks."""

from django.urls import URLPattern, URLResolver, path

from campaigns.views import failures

urlpatterns: list[URLPattern | URLResolver] = [
    # Messages dead after their retries ("Falhas") and "Reenviar".
    path("messages/failures/", failures.failures_page, name="message-failures"),
    path("messages/failures/resend/", failures.failures_resend, name="message-failures-resend"),
]
