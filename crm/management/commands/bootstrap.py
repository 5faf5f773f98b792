from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from crm.demo import DEMO_PASSWORD, DEMO_USERS, demo_load
from tenants.selectors import udn_list
from tenants.services import public_tenant_ensure, udn_schedules_ensure, udn_template_ensure


class Command(BaseCommand):
    help = "Migrate the shared schema, the UDN template and every UDN; optionally load the demo. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo", action="store_true", help="provision the demo UDNs and users")

    def step(self, label: str) -> None:
        self.stdout.write(f"==> {label}")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        self.step("migrating the shared schema")
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure(domains=[settings.BASE_DOMAIN, "127.0.0.1"])
        self.step(f"migrating the UDN template schema ({settings.TENANT_BASE_SCHEMA})")
        udn_template_ensure()
        self.step("migrating the UDN schemas")
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
        for udn in udn_list():
            udn_schedules_ensure(udn=udn)  # UDNs made before a periodic task was added get it too
        if options["demo"]:
            self.step("loading the demo")
            udns = demo_load()
            port = settings.DEV_PORT
            self.stdout.write("")
            self.stdout.write(self.style.SUCCESS("UDN CRM is ready:"))
            self.stdout.write(f"  shared space      http://{settings.BASE_DOMAIN}:{port}/")
            for udn in udns:
                self.stdout.write(f"  {udn.name:<17} http://{udn.get_primary_domain()}:{port}/")
            self.stdout.write(f"  admin             http://{settings.BASE_DOMAIN}:{port}/admin/")
            self.stdout.write(f"  health            http://{settings.BASE_DOMAIN}:{port}/healthz")
            self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
            for user in DEMO_USERS:
                roles = ", ".join(f"{role} @ {slug}" for slug, role in user.roles.items())
                extra = (
                    "superuser, coordinator"
                    if user.is_superuser
                    else ("coordinator" if user.is_coordinator else "")
                )
                self.stdout.write(f"  {user.email:<24} {', '.join(filter(None, [roles, extra]))}")
        self.stdout.write(f"bootstrap done in {time.perf_counter() - started:.1f}s")
