from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devtools.benchmarks import REGISTRY, load_all
from tenants.services import public_tenant_ensure, udn_template_ensure


class Command(BaseCommand):
    help = "Run benchmarks (all, or those named). One JSON object a line on stdout; progress on stderr."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*")

    def handle(self, *args: Any, **options: Any) -> None:
        load_all()
        names = options["names"] or list(REGISTRY)
        unknown = [name for name in names if name not in REGISTRY]
        if unknown:
            raise CommandError(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
        print(f"==> preparing {settings.DATABASES['default']['NAME']}", file=sys.stderr)
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure(domains=[settings.BASE_DOMAIN, "127.0.0.1"])
        udn_template_ensure()
        # Production-like: DEBUG off serves hashed static files from collectstatic's manifest.
        call_command("collectstatic", interactive=False, verbosity=0)
        for name in names:
            print(f"==> {name}", file=sys.stderr, flush=True)
            for result in REGISTRY[name]():
                self.stdout.write(result.as_json())
                self.stdout.flush()
