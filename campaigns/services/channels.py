"""Channel settings of a UDN: which provider carries each channel, its settings and its secrets
(encrypted, campaigns.secrets), its rate and whether it is on."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.models import ChannelConfig
from campaigns.models import Provider as ProviderKind
from campaigns.providers.base import REAL_PROVIDER, SPECS, channel_config_get, is_secret_name, provider_for
from campaigns.secrets import secrets_merge
from crm.channels import CHANNEL_CODES


class ChannelError(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ChannelChange:
    """What to change; None leaves a value as it is. Secrets: a value replaces, "" removes."""

    provider: str | None = None
    settings: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    rate_per_second: int | None = None
    enabled: bool | None = None


def channel_providers(channel: str) -> list[str]:
    """The providers `channel` may use: the sandbox and its real one."""
    return [ProviderKind.SANDBOX, REAL_PROVIDER[channel]]


def channel_split(*, channel: str, values: dict[str, str]) -> ChannelChange:
    """`key=value` pairs (channel_configure --set) sorted into provider, settings, secrets, rate and
    enabled; a key is a secret when the provider names it so or its name says so (token, password,
    secret...)."""
    if channel not in CHANNEL_CODES:
        raise ChannelError(_("Unknown channel “%(channel)s”.") % {"channel": channel}, "channel")
    spec = SPECS[REAL_PROVIDER[channel]]
    setting_names = {f.name for f in spec.settings}
    secret_names = {f.name for f in spec.secrets}
    provider: str | None = None
    rate: int | None = None
    enabled: bool | None = None
    settings: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for key, value in values.items():
        if key == "provider":
            provider = value
        elif key == "rate_per_second":
            try:
                rate = int(value)
            except ValueError:
                raise ChannelError(_("The rate must be a whole number."), key) from None
        elif key == "enabled":
            enabled = value.strip().lower() in {"1", "true", "yes", "on", "sim"}
        elif key in secret_names or is_secret_name(key):
            if key not in secret_names:
                raise ChannelError(_("Unknown setting “%(key)s” for this channel.") % {"key": key}, key)
            secrets[key] = value
        elif key in setting_names:
            settings[key] = value
        else:
            raise ChannelError(_("Unknown setting “%(key)s” for this channel.") % {"key": key}, key)
    return ChannelChange(
        provider=provider,
        settings=settings or None,
        secrets=secrets or None,
        rate_per_second=rate,
        enabled=enabled,
    )


@transaction.atomic
def channel_configure(*, channel: str, change: ChannelChange, updated_by: str) -> ChannelConfig:
    """Apply `change` to this UDN's settings of `channel` (made on first use)."""
    if channel not in CHANNEL_CODES:
        raise ChannelError(_("Unknown channel “%(channel)s”.") % {"channel": channel}, "channel")
    config = ChannelConfig.objects.select_for_update().filter(channel=channel).first() or ChannelConfig(
        channel=channel
    )
    if change.provider is not None:
        if change.provider not in channel_providers(channel):
            raise ChannelError(
                _("“%(provider)s” cannot carry this channel.") % {"provider": change.provider}, "provider"
            )
        config.provider = change.provider
    spec = SPECS[REAL_PROVIDER[channel]]
    if change.settings is not None:
        known = {f.name for f in spec.settings}
        unknown = set(change.settings) - known
        if unknown:
            raise ChannelError(
                _("Unknown setting “%(key)s” for this channel.") % {"key": sorted(unknown)[0]}, "settings"
            )
        merged = {**config.settings, **change.settings}
        config.settings = {k: v.strip() for k, v in merged.items() if str(v).strip()}
    if change.secrets is not None:
        known = {f.name for f in spec.secrets}
        unknown = set(change.secrets) - known
        if unknown:
            raise ChannelError(
                _("Unknown setting “%(key)s” for this channel.") % {"key": sorted(unknown)[0]}, "secrets"
            )
        config.secrets = secrets_merge(config.secrets, changes=change.secrets)
    if change.rate_per_second is not None:
        if not 1 <= change.rate_per_second <= 10_000:
            raise ChannelError(
                _("The rate must be between 1 and 10,000 messages a second."), "rate_per_second"
            )
        config.rate_per_second = change.rate_per_second
    if change.enabled is not None:
        config.enabled = change.enabled
    config.updated_by = updated_by
    config.save()
    return config


def channel_test(*, channel: str) -> str | None:
    """Try `channel`'s connection and credentials without sending anything: None when they work,
    else what went wrong."""
    return provider_for(channel, config=channel_config_get(channel)).check()
