"""Configure a UDN's channel for deployments: `./dev manage channel_configure --udn SLUG --channel
whatsapp --set provider=whatsapp_cloud phone_number_id=123 access_token=EAAG...`. Keys that are
secrets (the provider's, or any named *token*, *password*, *secret*...) are stored encrypted and
never printed; an empty value removes a secret."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from campaigns.providers.base import is_secret_name
from campaigns.secrets import secrets_decrypt
from campaigns.services.channels import ChannelError, channel_configure, channel_split
from crm.channels import CHANNEL_CODES
from tenants.management.base import UDNCommand
from tenants.models import UDN


class Command(UDNCommand):
    help = "Set a UDN's channel provider, settings and (encrypted) secrets."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--channel", required=True, choices=CHANNEL_CODES)
        parser.add_argument(
            "--set",
            nargs="+",
            default=[],
            metavar="KEY=VALUE",
            help="provider=..., rate_per_second=N, enabled=0|1, and the provider's settings and secrets",
        )

    def handle_udn(self, udn: UDN, /, *args: Any, **options: Any) -> None:  # type: ignore[override]
        values: dict[str, str] = {}
        for item in options["set"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--set takes KEY=VALUE, not {item!r}")
            values[key.strip()] = value
        channel = options["channel"]
        try:
            config = channel_configure(
                channel=channel,
                change=channel_split(channel=channel, values=values),
                updated_by=f"manage.py channel_configure ({udn.slug})",
            )
        except ChannelError as error:
            raise CommandError(str(error)) from None
        shown = ", ".join(f"{k}={v}" for k, v in sorted(config.settings.items()) if not is_secret_name(k))
        secrets = ", ".join(sorted(secrets_decrypt(config.secrets))) or "none"
        self.stdout.write(
            f"{udn.slug} · {channel}: provider {config.provider}, {config.rate_per_second}/s, "
            f"{'enabled' if config.enabled else 'disabled'}; settings: {shown or 'none'}; "
            f"secrets set: {secrets}"
        )
