"""Create an API key for a UDN's partner system; prints the key alone on the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from crm.api.services import ApiKeyError, api_key_create
from crm.models import ApiScope
from tenants.management.base import UDNCommand
from tenants.models import UDN


class Command(UDNCommand):
    help = "Create an API key in a UDN (shown once: store it now). Prints the key alone on its last line."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--scopes",
            required=True,
            metavar="A,B",
            help=f"comma-separated scopes: {', '.join(ApiScope.values)}",
        )
        parser.add_argument("--name", required=True, help="what the key is for (e.g. the partner system)")
        parser.add_argument("--created-by", default="manage.py", help="who asked for it (an e-mail)")

    def handle_udn(self, udn: UDN, /, *args: Any, **options: Any) -> None:  # type: ignore[override]
        scopes = [scope for scope in options["scopes"].split(",") if scope.strip()]
        try:
            api_key, key = api_key_create(
                name=options["name"], scopes=scopes, created_by=options["created_by"]
            )
        except ApiKeyError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{udn.slug}: API key “{api_key.name}” ({api_key.prefix}…) with scopes "
            f"{', '.join(api_key.scopes)}. It is shown once; store it now:"
        )
        self.stdout.write(key)
