"""The secrets that prove a call to `/hooks/<channel>/` comes from the channel's provider: the
channel's secrets as the providers read them (campaigns.providers.base.channel_access: the
encrypted ones of a real provider, the derived ones of the local sandbox, which signs its callbacks
with them exactly as the provider does):

- WhatsApp Cloud API: `app_secret` (each POST carries `X-Hub-Signature-256: sha256=<hex
  HMAC-SHA256 of the raw body>`) and `verify_token` (the GET handshake's `hub.verify_token`).
- SMS (Zenvia API v2): `webhook_token`; Zenvia does not sign its callbacks, so the subscription
  is created with the header `X-Webhook-Token: <webhook_token>` (Zenvia's `webhook.headers`).
- Telegram Bot API: `webhook_secret_token`, given to setWebhook as `secret_token`; Telegram sends
  it back in `X-Telegram-Bot-Api-Secret-Token`.

A channel with the secret not configured refuses every call (no secret, no proof).
"""

from __future__ import annotations

from campaigns.providers.base import channel_access
from campaigns.secrets import SecretsUnreadable

APP_SECRET = "app_secret"  # noqa: S105 - a secret's name
VERIFY_TOKEN = "verify_token"  # noqa: S105 - a secret's name
WEBHOOK_TOKEN = "webhook_token"  # noqa: S105
WEBHOOK_SECRET = "webhook_secret_token"  # noqa: S105


def hook_secret(*, channel: str, name: str) -> str:
    """The secret `name` of `channel` in this UDN; "" when none is configured or it cannot be
    decrypted (the hook then refuses every call)."""
    try:
        return channel_access(channel).secret(name)
    except SecretsUnreadable:
        return ""
