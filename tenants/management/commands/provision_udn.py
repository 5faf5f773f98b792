from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import ProvisioningError, udn_provision


class Command(BaseCommand):
    help = "Provision a UDN: schema (cloned from the template), host name and beat tick."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="lowercase letters, digits, hyphens")
        parser.add_argument("--domain", help="host name (default: <slug>.localhost, or BASE_DOMAIN)")
        parser.add_argument("--time-zone", default="America/Sao_Paulo")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            udn = udn_provision(
                name=options["name"],
                slug=options["slug"],
                domain=options["domain"],
                time_zone=options["time_zone"],
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(problems) from exc
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        domain = udn.get_primary_domain()
        self.stdout.write(
            self.style.SUCCESS(
                f"Provisioned {udn.name} (schema {udn.schema_name}, http://{domain}:8000/) "
                f"in {time.perf_counter() - started:.2f}s"
            )
        )
