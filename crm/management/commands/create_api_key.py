"""Create an API key for a UDN's partner system; prints the key alone on the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from crm.models import API_SCOPES_OFFERED
from crm.services.api_keys import ApiKeyError, api_key_create
from tenants.management.base import UDNCommand
from tenants.models import UDN


class Command(UDNCommand):
    help = "Create an API key in a UDN (shown once: store it now). Prints the key alone on its last line."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--scopes",
            required=True,
            nargs="+",
            metavar="SCOPE",
            help=f"scopes, separated by spaces or commas: {', '.join(API_SCOPES_OFFERED)}",
        )
        parser.add_argument(
            "--name",
            help="what the key is for, e.g. the partner system (default: when and where it was made)",
        )
        parser.add_argument("--created-by", default="manage.py", help="who asked for it (an e-mail)")

    def handle_udn(self, udn: UDN, /, *args: Any, **options: Any) -> None:  # type: ignore[override]
        given = options["scopes"]
        scopes = [
            scope.strip()
            for part in ([given] if isinstance(given, str) else given)
            for scope in part.split(",")
        ]
        name = options["name"] or f"Criada pelo terminal em {timezone.localtime():%d/%m/%Y %H:%M}"
        try:
            api_key, key = api_key_create(
                name=name, scopes=[s for s in scopes if s], created_by=options["created_by"]
            )
        except ApiKeyError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{udn.slug}: API key “{api_key.name}” ({api_key.prefix}…) with scopes "
            f"{', '.join(api_key.scopes)}. It is shown once; store it now:"
        )
        self.stdout.write(key)
