from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from crm.models import ImportJob
from crm.readers import ImportFileError
from crm.selectors.imports import rejected_rows_csv
from crm.services.imports import (
    affiliates_import,
    import_job_create,
    import_mapping_clean,
    import_mapping_save,
)
from tenants.actors import IMPORT
from tenants.management.base import UDNCommand
from tenants.models import UDN


class Command(UDNCommand):
    actor_kind = IMPORT
    help = (
        "Import affiliates from a CSV or XLSX file into a UDN (the same code path as the UI). "
        "Rows with problems (rejected, or imported with a bad optional field left blank) are written next "
        "to the file, with their reasons, as <file>.problems.csv. Exits non-zero only when the file cannot be "
        "read or its columns cannot be recognised."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--mapping",
            type=Path,
            help='JSON object {"file header": "field"} (fields: external_id, name, cpf, phone, email, birth_date, '
            'city, state, plan, plan_fee, origin, tags, or "attr:<name>"; "" ignores a column). Default: the '
            "UDN's saved mapping, else the automatic suggestion.",
        )

    def handle_udn(self, udn: UDN, /, *args: Any, **options: Any) -> None:
        path: Path = options["file"].resolve()
        started = time.perf_counter()
        try:
            job = import_job_create(path=path, created_by="import_affiliates", source="command")
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        mapping = job.mapping
        if options["mapping"]:
            try:
                mapping = json.loads(options["mapping"].read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"Could not read the mapping file: {exc}") from exc
        try:
            import_mapping_clean(headers=job.headers, mapping=mapping)
        except ValidationError as exc:
            suggestion = json.dumps(job.mapping, ensure_ascii=False, indent=2)
            raise CommandError(
                "The columns could not be mapped: "
                + " ".join(exc.messages)
                + f"\nEdit this suggestion and pass it with --mapping FILE.json:\n{suggestion}"
            ) from exc
        job = import_mapping_save(job=job, mapping=mapping)
        mapped = ", ".join(f"{h} → {t}" for h, t in job.mapping.items() if t)
        self.stdout.write(
            f"{udn.name}: importing {path.name} (~{job.expected_rows:,} rows). Columns: {mapped}"
        )

        def progress(current: ImportJob) -> None:
            share = f" ({current.total_rows / job.expected_rows:.0%})" if job.expected_rows else ""
            self.stdout.write(
                f"  read {current.total_rows:,} rows{share}, rejected so far {current.rejected:,}, "
                f"with warnings {current.warned:,}"
            )

        try:
            job = affiliates_import(job=job, path=path, on_progress=progress)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {elapsed:.1f}s ({job.total_rows / elapsed:,.0f} rows/s): created {job.created:,}, "
                f"updated {job.updated:,}, unchanged {job.unchanged:,}, rejected {job.rejected:,}, "
                f"imported with warnings {job.warned:,} (rows repeated in the file: {job.duplicates:,})"
            )
        )
        if job.rejected or job.warned:
            target = path.with_name(path.name + ".problems.csv")
            with target.open("w", encoding="utf-8", newline="") as handle:
                for chunk in rejected_rows_csv(job=job):
                    handle.write(chunk)
            self.stdout.write(f"Rows rejected or imported with warnings, with their reasons: {target}")
