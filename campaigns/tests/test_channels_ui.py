"""Canais (secrets encrypted at rest and never shown back), channel_configure, and the Caixa de
saída page."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns.models import ChannelConfig, SandboxMessage
from campaigns.providers.base import channel_access
from campaigns.secrets import secrets_decrypt

SECRET = "EAAG-super-secret-token-123"


def save_whatsapp(client, **extra):
    data = {
        "whatsapp-provider": "whatsapp_cloud",
        "whatsapp-rate_per_second": "80",
        "whatsapp-enabled": "on",
        "whatsapp-setting_base_url": "https://graph.facebook.com",
        "whatsapp-setting_api_version": "v21.0",
        "whatsapp-setting_phone_number_id": "123456789",
        "whatsapp-secret_access_token": SECRET,
        "whatsapp-secret_app_secret": "",
        **extra,
    }
    return client.post(reverse("channel-save", args=["whatsapp"]), data)


def test_a_saved_secret_is_encrypted_and_never_shown_again(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)
    assert save_whatsapp(client).status_code == 302
    with schema_context(udn_a.schema_name):
        config = ChannelConfig.objects.get(channel="whatsapp")
        assert SECRET not in config.secrets and SECRET not in str(config.settings)
        assert secrets_decrypt(config.secrets)["access_token"].value == SECRET
        assert (config.provider, config.rate_per_second, config.settings["phone_number_id"]) == (
            "whatsapp_cloud",
            80,
            "123456789",
        )
        assert config.updated_by == marketer.email
    page = client.get(reverse("channels")).content.decode()
    assert SECRET not in page
    today = timezone.localdate().strftime("%d/%m/%Y")
    assert f"definido em {today}" in page
    # Saving again with the secret left blank keeps it.
    assert save_whatsapp(client, **{"whatsapp-secret_access_token": ""}).status_code == 302
    with schema_context(udn_a.schema_name):
        assert channel_access("whatsapp").secret("access_token") == SECRET


def test_an_analyst_cannot_change_channels(udn_a, analyst, client_for):
    client = client_for(udn_a, analyst)
    assert client.get(reverse("channels")).status_code == 200
    assert save_whatsapp(client).status_code == 403
    with schema_context(udn_a.schema_name):
        assert not ChannelConfig.objects.exists()


def test_a_channel_cannot_take_another_channels_provider(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)
    response = save_whatsapp(client, **{"whatsapp-provider": "smtp"})
    assert response.status_code == 400


def test_channel_configure_encrypts_secrets_by_name(udn_a):
    out = StringIO()
    call_command(
        "channel_configure",
        "--udn",
        "alpha",
        "--channel",
        "sms",
        "--set",
        "provider=sms_gateway",
        "sender=UDNALPHA",
        "api_token=zenvia-token-xyz",
        "rate_per_second=20",
        stdout=out,
    )
    assert "zenvia-token-xyz" not in out.getvalue()
    assert "secrets set: api_token" in out.getvalue()
    with schema_context("alpha"):
        config = ChannelConfig.objects.get(channel="sms")
        assert "zenvia-token-xyz" not in config.secrets
        assert (config.provider, config.settings, config.rate_per_second) == (
            "sms_gateway",
            {"sender": "UDNALPHA"},
            20,
        )
        assert channel_access("sms").secret("api_token") == "zenvia-token-xyz"
    with pytest.raises(CommandError, match="unknown_key"):
        call_command("channel_configure", "--udn", "alpha", "--channel", "sms", "--set", "unknown_key=1")


def _outbox(schema: str) -> None:
    with schema_context(schema):
        SandboxMessage.objects.create(
            channel="email",
            to="ana@example.com",
            subject="Seu bônus chegou",
            body_html='<p>Olá, <b>Ana</b> "x"</p><script>alert(1)</script>',
            body_text="Olá, Ana",
            payload={},
            provider_message_id=f"<{schema}-1@example>",
        )
        SandboxMessage.objects.create(
            channel="telegram",
            to="777",
            body_text="Abra o app",
            payload={
                "reply_markup": {"inline_keyboard": [[{"text": "Abrir o app", "url": "https://app/x"}]]}
            },
            provider_message_id=f"{schema}-777:1",
        )
        SandboxMessage.objects.create(
            channel="sms",
            to="5511987654321",
            body_text="Oi, Ana",
            payload={},
            provider_message_id=f"{schema}-sms",
        )


def test_the_outbox_shows_each_message_as_received_newest_first_and_filters(
    udn_a, udn_b, marketer, client_for
):
    _outbox(udn_a.schema_name)
    _outbox(udn_b.schema_name)
    client = client_for(udn_a, marketer)
    page = client.get(reverse("sandbox-outbox")).content.decode()
    # Newest first; beta's messages stay in beta.
    assert page.index('data-provider-id="alpha-sms"') < page.index('data-provider-id="alpha-777:1"')
    assert "beta-sms" not in page
    # The e-mail's HTML in a sandboxed iframe's srcdoc, escaped (no script runs, nothing breaks out).
    assert 'sandbox=""' in page
    assert 'srcdoc="&lt;p&gt;Olá, &lt;b&gt;Ana&lt;/b&gt; &quot;x&quot;&lt;/p&gt;&lt;script&gt;' in page
    assert "<script>alert(1)</script>" not in page
    assert "Abrir o app" in page
    sms_only = client.get(reverse("sandbox-outbox"), {"channel": "sms"}).content.decode()
    assert "alpha-sms" in sms_only and "alpha-777:1" not in sms_only
    found = client.get(reverse("sandbox-outbox"), {"to": "ANA@EXAMPLE"}).content.decode()
    assert "ana@example.com" in found and "alpha-sms" not in found
    empty = client.get(reverse("sandbox-outbox"), {"to": "ninguem"}).content.decode()
    assert 'data-testid="outbox-empty"' in empty


def test_the_outbox_pages(udn_a, marketer, client_for):
    with schema_context(udn_a.schema_name):
        SandboxMessage.objects.bulk_create(
            SandboxMessage(
                channel="sms", to=f"55119{i:08d}", body_text="x", payload={}, provider_message_id=f"p{i}"
            )
            for i in range(25)
        )
    client = client_for(udn_a, marketer)
    first = client.get(reverse("sandbox-outbox"), {"channel": "sms"}).content.decode()
    second = client.get(reverse("sandbox-outbox"), {"channel": "sms", "page": 2}).content.decode()
    assert first.count('data-testid="outbox-message"') == 20
    assert second.count('data-testid="outbox-message"') == 5
    assert "channel=sms&amp;page=2" in first


@pytest.mark.usefixtures("sandbox_process")
def test_testing_the_sandbox_connection_works(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)
    response = client.post(reverse("channel-test", args=["telegram"]), follow=True)
    assert "Telegram: a conexão funciona." in response.content.decode()
