"""The provider interface: how a channel's messages leave, whoever carries them.

    provider = provider_for("whatsapp")          # reads this UDN's ChannelConfig (sandbox by default)
    results = provider.send([OutgoingMessage(...), ...])   # one SendResult per message, same order

A provider speaks one real protocol: SMTP (smtp.py), the WhatsApp Cloud API (whatsapp.py), Zenvia's
SMS API v2 (sms.py), FCM HTTP v1 (fcm.py) or the Telegram Bot API (telegram.py). The **sandbox** is
not another code path: it is the same provider class with the local sandbox's address and
credentials (`sandbox_settings`), so what the sandbox receives is exactly what a real provider
would. Every HTTP request goes through crm.outbound (resolved once, private addresses refused
unless allowed, deadlines); the sandbox provider may reach its own private address, a configured
provider only where `PROVIDER_ALLOW_PRIVATE_URLS` allows (development and tests).

Payloads (`OutgoingMessage.payload`, as campaigns.templating renders them):
- email: {"subject", "html", "text", "headers": {...} (List-Unsubscribe...), optional "from_email",
  "reply_to"}
- whatsapp: a Cloud API message object without `messaging_product`/`to`: {"type": "template",
  "template": {"name", "language": {"code"}, "components": [...]}} or {"type": "text", "text": {"body"}}
- sms: {"text"}
- push: an FCM v1 `message` ({"notification": {"title", "body"}, "data": {...}, ...}; the device
  token is the address unless the message names a token, topic or condition), or {"message": {...}}
- telegram: a sendMessage body without `chat_id` ({"text", "reply_markup": {"inline_keyboard": ...}})
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext_lazy as _

from campaigns.models import ChannelConfig
from campaigns.models import Provider as ProviderKind
from campaigns.secrets import secrets_decrypt
from crm.outbound import OutboundFailed, OutboundRefused, OutboundResponse, outbound_request

# Each request to a provider's HTTP API must finish (connect to last byte) within this.
HTTP_TIMEOUT_SECONDS = 15.0
# A provider's answer is small (an id, an error); more than this is not read.
HTTP_MAX_BODY_BYTES = 64 * 1024
USER_AGENT = "UDN-CRM-Messaging/1"
# Requests of one batch in flight at once: a provider's round trip, not our CPU, sets the pace.
SEND_CONCURRENCY = 8
# The sandbox's HTTP APIs live under /udn/<schema>/ on SANDBOX_HTTP_PORT: the path says which
# UDN's outbox a request lands in (campaigns/sandbox/http.py).
SANDBOX_PATH_PREFIX = "/udn/"


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: int
    idempotency_key: str
    channel: str
    address: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class SendResult:
    message_id: int
    ok: bool
    provider_message_id: str = ""
    error: str = ""
    # Whether trying again later may succeed (timeouts, rate limits, 5xx); False for errors that
    # will repeat (bad address, bad credentials, a refused template).
    retryable: bool = False

    @classmethod
    def failed(cls, message: OutgoingMessage, error: str, *, retryable: bool) -> SendResult:
        return cls(message_id=message.message_id, ok=False, error=error[:2000], retryable=retryable)


@dataclass(frozen=True)
class Field:
    """One setting or secret a provider needs, as the "Canais" page and channel_configure show it."""

    name: str
    label: Any
    default: str = ""
    help: Any = ""


@dataclass(frozen=True)
class ProviderSpec:
    """A real provider: the channel it carries, its settings and its secrets."""

    provider: str  # a campaigns.models.Provider (ProviderKind) value
    channel: str
    settings: tuple[Field, ...]
    secrets: tuple[Field, ...]
    can_test: bool = True


SPECS: dict[str, ProviderSpec] = {
    spec.provider: spec
    for spec in (
        ProviderSpec(
            ProviderKind.SMTP,
            "email",
            settings=(
                Field("host", _("SMTP server"), help=_("e.g. smtp.example.com")),
                Field("port", _("port"), default="587"),
                Field("use_tls", _("STARTTLS (1 = yes)"), default="1"),
                Field("use_ssl", _("implicit TLS (1 = yes)"), default="0"),
                Field("username", _("user name")),
                Field("from_email", _("sender"), help=_("e.g. UDN <news@example.com>")),
            ),
            secrets=(Field("password", _("password")),),
        ),
        ProviderSpec(
            ProviderKind.WHATSAPP_CLOUD,
            "whatsapp",
            settings=(
                Field("base_url", _("API address"), default="https://graph.facebook.com"),
                Field("api_version", _("API version"), default="v21.0"),
                Field("phone_number_id", _("phone number ID")),
                Field("webhook_url", _("status callback URL (sandbox only)")),
            ),
            secrets=(
                Field("access_token", _("access token")),
                Field("app_secret", _("app secret (signs the status webhooks)")),
                Field("verify_token", _("webhook verify token")),
            ),
        ),
        ProviderSpec(
            ProviderKind.SMS_GATEWAY,
            "sms",
            settings=(
                Field("base_url", _("API address"), default="https://api.zenvia.com"),
                Field("sender", _("sender ID")),
                Field("webhook_url", _("status callback URL (sandbox only)")),
            ),
            secrets=(
                Field("api_token", _("API token (X-API-TOKEN)")),
                Field("webhook_token", _("status webhook token (X-Webhook-Token)")),
            ),
        ),
        ProviderSpec(
            ProviderKind.FCM,
            "push",
            settings=(
                Field("base_url", _("API address"), default="https://fcm.googleapis.com"),
                Field("project_id", _("Firebase project ID")),
            ),
            secrets=(Field("service_account_json", _("service account (JSON key)")),),
        ),
        ProviderSpec(
            ProviderKind.TELEGRAM,
            "telegram",
            settings=(Field("base_url", _("API address"), default="https://api.telegram.org"),),
            secrets=(
                Field("bot_token", _("bot token")),
                Field("webhook_secret_token", _("webhook secret token")),
            ),
        ),
    )
}
#: The real provider of each channel (the other choice is the sandbox).
REAL_PROVIDER: dict[str, str] = {spec.channel: spec.provider for spec in SPECS.values()}
# Key names that are secrets wherever they appear (channel_configure --set recognises them).
SECRET_WORDS = ("password", "token", "secret", "service_account", "api_key")


def is_secret_name(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


@dataclass(frozen=True)
class ChannelAccess:
    """What a provider needs to send on a channel: the protocol it speaks (`protocol`, a real
    provider), where and with what credentials (the sandbox's for a sandbox channel)."""

    channel: str
    provider: str  # as configured: "sandbox" or the real provider
    protocol: str  # the real provider whose protocol is spoken
    settings: dict[str, str]
    secrets: dict[str, str] = field(repr=False)
    allow_private: bool
    rate_per_second: int
    enabled: bool

    @property
    def is_sandbox(self) -> bool:
        return self.provider == ProviderKind.SANDBOX

    def setting(self, name: str) -> str:
        value = self.settings.get(name, "")
        if value == "":
            spec = SPECS[self.protocol]
            value = next((f.default for f in spec.settings if f.name == name), "")
        return str(value)

    def secret(self, name: str) -> str:
        return self.secrets.get(name, "")


def current_schema() -> str:
    return connection.schema_name  # type: ignore[attr-defined]


def sandbox_secret(*, schema: str, name: str) -> str:
    """A sandbox credential of one UDN (SMTP password, access token, app secret...): derived from
    SECRET_KEY, so the sandbox process and this server agree without storing it anywhere."""
    return hmac.new(
        settings.SECRET_KEY.encode(), f"sandbox:{schema}:{name}".encode(), hashlib.sha256
    ).hexdigest()


def sandbox_base_url(schema: str) -> str:
    return f"http://{settings.SANDBOX_HOST}:{settings.SANDBOX_HTTP_PORT}{SANDBOX_PATH_PREFIX}{schema}"


def sandbox_settings(*, channel: str, schema: str) -> tuple[dict[str, str], dict[str, str]]:
    """(settings, secrets) of the sandbox for `channel` in UDN `schema`."""
    secret = lambda name: sandbox_secret(schema=schema, name=name)  # noqa: E731
    base = sandbox_base_url(schema)
    if channel == "email":
        return (
            {
                "host": settings.SANDBOX_HOST,
                "port": str(settings.SANDBOX_SMTP_PORT),
                "use_tls": "0",
                "use_ssl": "0",
                # The SMTP login names the UDN whose outbox the message lands in.
                "username": schema,
                "from_email": settings.DEFAULT_FROM_EMAIL,
            },
            {"password": secret("smtp")},
        )
    if channel == "whatsapp":
        return (
            {"base_url": base, "api_version": "v21.0", "phone_number_id": "100000000000001"},
            {
                "access_token": secret("whatsapp"),
                "app_secret": secret("whatsapp-app"),
                "verify_token": secret("whatsapp-verify"),
            },
        )
    if channel == "sms":
        return (
            {"base_url": base, "sender": "UDN"},
            {"api_token": secret("zenvia"), "webhook_token": secret("zenvia-webhook")},
        )
    if channel == "push":
        from campaigns.providers.fcm import sandbox_service_account

        return (
            {"base_url": base, "project_id": f"sandbox-{schema.replace('_', '-')}"},
            {"service_account_json": json.dumps(sandbox_service_account(schema=schema, base_url=base))},
        )
    if channel == "telegram":
        return (
            {"base_url": base},
            {
                "bot_token": f"100000001:{secret('telegram')[:35]}",
                # What setWebhook's `secret_token` would be: the sandbox sends it back on every
                # update (X-Telegram-Bot-Api-Secret-Token), as Telegram does.
                "webhook_secret_token": secret("telegram-webhook"),
            },
        )
    raise KeyError(channel)


def channel_config_get(channel: str) -> ChannelConfig:
    """This UDN's settings for `channel` (unsaved defaults, the sandbox, when it has none)."""
    config = ChannelConfig.objects.filter(channel=channel).first()
    return config if config is not None else ChannelConfig(channel=channel)


def channel_access(channel: str, *, config: ChannelConfig | None = None) -> ChannelAccess:
    """How this UDN (the connection's schema) sends on `channel`."""
    config = config if config is not None else channel_config_get(channel)
    schema = current_schema()
    if config.provider == ProviderKind.SANDBOX:
        values, secrets = sandbox_settings(channel=channel, schema=schema)
        # A configured callback URL (like the one set in a provider's dashboard) is kept.
        if config.settings.get("webhook_url"):
            values["webhook_url"] = config.settings["webhook_url"]
        allow_private = True
    else:
        values = {k: str(v) for k, v in config.settings.items()}
        secrets = {name: s.value for name, s in secrets_decrypt(config.secrets).items()}
        allow_private = settings.PROVIDER_ALLOW_PRIVATE_URLS
    return ChannelAccess(
        channel=channel,
        provider=config.provider,
        protocol=REAL_PROVIDER[channel],
        settings=values,
        secrets=secrets,
        allow_private=allow_private,
        rate_per_second=config.rate_per_second,
        enabled=config.enabled,
    )


class Provider(abc.ABC):
    """A channel's sender. Subclasses implement `send` (and `check` for "Testar conexão")."""

    protocol: ClassVar[str]

    def __init__(self, access: ChannelAccess) -> None:
        self.access = access

    @property
    def name(self) -> str:
        """What Message.provider records: "sandbox" or the real provider."""
        return self.access.provider

    @property
    def rate_per_second(self) -> int:
        return self.access.rate_per_second

    @abc.abstractmethod
    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        """Hand `messages` to the provider: one result per message, in order; never raises for a
        message's failure (that is its result)."""

    def check(self) -> str | None:
        """Try the connection and credentials without sending: None when they work, else why."""
        return None


def provider_class(protocol: str) -> type[Provider]:
    from campaigns.providers import fcm, sms, smtp, telegram, whatsapp

    classes: dict[str, type[Provider]] = {
        ProviderKind.SMTP: smtp.SmtpProvider,
        ProviderKind.WHATSAPP_CLOUD: whatsapp.WhatsAppProvider,
        ProviderKind.SMS_GATEWAY: sms.ZenviaSmsProvider,
        ProviderKind.FCM: fcm.FcmProvider,
        ProviderKind.TELEGRAM: telegram.TelegramProvider,
    }
    return classes[protocol]


def provider_for(channel: str, *, config: ChannelConfig | None = None) -> Provider:
    """The provider this UDN sends `channel` through (its ChannelConfig; the sandbox by default)."""
    access = channel_access(channel, config=config)
    return provider_class(access.protocol)(access)


def http_request(
    access: ChannelAccess, *, method: str, url: str, headers: dict[str, str], body: bytes | None = None
) -> OutboundResponse:
    """One request to the provider's API through crm.outbound (OutboundRefused/OutboundFailed)."""
    return outbound_request(
        method=method,
        url=url,
        body=body,
        headers={"User-Agent": USER_AGENT, **headers},
        timeout=HTTP_TIMEOUT_SECONDS,
        max_body_bytes=HTTP_MAX_BODY_BYTES,
        allow_private=access.allow_private,
    )


def send_each(
    messages: list[OutgoingMessage], one: Callable[[OutgoingMessage], SendResult]
) -> list[SendResult]:
    """`one` for each message, SEND_CONCURRENCY at a time, results in order. A request that could not
    be made is that message's result: refused (a bad URL, a private address) is final, a failed
    connection or a timeout may be retried."""

    def guarded(message: OutgoingMessage) -> SendResult:
        try:
            return one(message)
        except OutboundRefused as error:
            return SendResult.failed(message, str(error), retryable=False)
        except OutboundFailed as error:
            return SendResult.failed(message, str(error), retryable=True)

    if len(messages) <= 1:
        return [guarded(message) for message in messages]
    with ThreadPoolExecutor(max_workers=min(SEND_CONCURRENCY, len(messages))) as pool:
        return list(pool.map(guarded, messages))


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_answer(head: bytes) -> dict[str, Any]:
    """A provider's JSON answer ({} when it is not a JSON object)."""
    try:
        value = json.loads(head or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
