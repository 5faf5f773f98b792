"""Export one UDN's affiliates and events to the data lake (Parquet), like the nightly job."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError, CommandParser

from crm.services.lake import LakeExportBusy, lake_export_run
from tenants.management.base import UDNCommand
from tenants.models import UDN


class Command(UDNCommand):
    help = "Export the UDN's affiliates and events changed since the last export to the data lake as Parquet."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--destination",
            metavar="URL",
            help="a path or fsspec URL (file://, s3://...); default: the LAKE_URL setting",
        )
        parser.add_argument("--full", action="store_true", help="export everything, not only what changed")

    # `udn` is positional-only: UDNCommand.handle passes the UDN positionally *and* the `--udn`
    # slug in options, so a plain `udn` parameter gets two values (TypeError).
    def handle_udn(self, udn: UDN, /, *args: Any, **options: Any) -> None:  # type: ignore[override]
        started = time.monotonic()
        try:
            export = lake_export_run(destination=options["destination"], full=options["full"])
        except LakeExportBusy:
            raise CommandError(f"{udn.slug}: another export of this UDN is running.") from None
        except Exception as exc:
            raise CommandError(f"{udn.slug}: export failed: {exc}") from exc
        seconds = time.monotonic() - started
        self.stdout.write(
            f"{udn.slug}: {export.affiliates} affiliates, {export.events} events, "
            f"{len(export.files)} files in {seconds:.2f} s → {export.destination} (export #{export.pk})"
        )
