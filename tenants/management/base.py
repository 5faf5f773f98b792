"""A base for management commands that work inside one UDN (`--udn SLUG`)."""

from __future__ import annotations

import abc
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from tenants.actors import SYSTEM, Actor, actor_bound
from tenants.models import UDN
from tenants.selectors import udn_list


class UDNCommand(BaseCommand, abc.ABC):
    #: Who the command's writes are recorded as in the UDN's audit log (tenants.actors): the
    #: system, or an import for the commands that import.
    actor_kind = SYSTEM

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--udn", required=True, metavar="SLUG", help="the UDN to work in (its slug)")

    def handle(self, *args: Any, **options: Any) -> str | None:
        slug = options["udn"]
        udn = udn_list().filter(slug=slug).first()
        if udn is None:
            known = ", ".join(udn_list().values_list("slug", flat=True)) or "none"
            raise CommandError(f"No UDN with slug {slug!r} (known: {known}).")
        command = self.__module__.rsplit(".", 1)[-1]
        actor = Actor(kind=self.actor_kind, id=command, label=f"manage.py {command}")
        with tenant_context(udn), actor_bound(actor):
            return self.handle_udn(udn, *args, **options)

    @abc.abstractmethod
    def handle_udn(self, udn: UDN, /, *args: Any, **options: Any) -> str | None:
        """The command's work, inside `udn`'s schema."""
