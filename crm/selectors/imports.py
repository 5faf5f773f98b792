"""Reads for imports: the column-mapping suggestion, the preview, the rows with problems as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from django.core.cache import cache
from django.db.models import CharField, Exists, OuterRef, QuerySet
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from crm.brazil import fold
from crm.importing import ATTRIBUTE_PREFIX, EXTRA_KEY, frame_prepare
from crm.leases import lease_stop_closed
from crm.models import AuditAction, AuditEntry, AuditTarget, ColumnMapping, ImportJob, ImportStatus, Origin
from crm.readers import header_key, source_batches, source_open
from crm.spreadsheets import csv_safe

# The standard fields a column can be mapped to, in the order the mapping form shows them.
FIELD_LABELS: dict[str, object] = {
    "external_id": _("UDN code (external id)"),
    "name": _("Name"),
    "cpf": _("CPF"),
    "phone": _("Mobile phone"),
    "email": _("E-mail"),
    "birth_date": _("Birth date"),
    "city": _("City"),
    "state": _("State (UF)"),
    "plan": _("Plan"),
    "plan_fee": _("Monthly fee (R$)"),
    "origin": _("Origin"),
    "tags": _("Tags"),
}

# The usual Portuguese (and some English) headers, compared after header_key().
SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "codigo",
        "cod",
        "id",
        "codigo do afiliado",
        "codigo afiliado",
        "cod afiliado",
        "matricula",
        "id cliente",
        "codigo cliente",
        "cod cliente",
        "id afiliado",
        "external id",
        "external_id",
    ),
    "name": (
        "nome",
        "nome completo",
        "cliente",
        "nome do cliente",
        "nome cliente",
        "afiliado",
        "nome do afiliado",
        "nome afiliado",
        "name",
        "full name",
    ),
    "cpf": (
        "cpf",
        "cpf do cliente",
        "cpf cliente",
        "cpf do afiliado",
        "documento",
        "num cpf",
        "n cpf",
        "nr cpf",
    ),
    "phone": (
        "celular",
        "telefone",
        "whatsapp",
        "whats",
        "fone",
        "tel",
        "telefone celular",
        "cel",
        "numero whatsapp",
        "celular whatsapp",
        "telefone whatsapp",
        "contato",
        "phone",
        "mobile",
    ),
    "email": ("email", "e mail", "correio eletronico", "endereco de email", "mail"),
    "birth_date": (
        "data de nascimento",
        "nascimento",
        "dt nascimento",
        "data nasc",
        "dt nasc",
        "data nascimento",
        "aniversario",
        "birth date",
        "birthdate",
    ),
    "city": ("cidade", "municipio", "city"),
    "state": ("uf", "estado", "state"),
    "plan": ("plano", "produto", "plano contratado", "plan"),
    "plan_fee": ("mensalidade", "valor", "valor do plano", "valor mensal", "valor mensalidade", "preco"),
    "origin": ("origem", "canal", "fonte", "origem do lead", "canal de entrada", "lead source", "origin"),
    "tags": ("tags", "etiquetas", "marcadores", "tag"),
}
_SYNONYM_INDEX = {synonym: field for field, synonyms in SYNONYMS.items() for synonym in synonyms}


def import_mapping_suggest(*, headers: list[str]) -> dict[str, str]:
    """header -> standard field ("" to ignore): the UDN's saved choices first, then the synonyms.

    Each field is suggested for one column at most (the first that matches)."""
    saved = dict(
        ColumnMapping.objects.filter(header__in=[header_key(h) for h in headers]).values_list(
            "header", "field"
        )
    )
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for header in headers:
        key = header_key(header)
        target = saved.get(key) or _SYNONYM_INDEX.get(key, "")
        if target and not target.startswith(ATTRIBUTE_PREFIX) and target in used:
            target = ""
        if target:
            used.add(target)
        mapping[header] = target
    return mapping


@dataclass(frozen=True)
class PreviewCell:
    """A preview value: `value` as it will be stored (for a rejected row, as it was read), `raw` as
    the file has it (shown on hover when it differs), `unknown` when the value was not recognised
    (an origin outside the list, stored as "Outra")."""

    value: str
    raw: str = ""
    unknown: bool = False

    @property
    def changed(self) -> bool:
        return self.raw.strip() != self.value


@dataclass
class PreviewRow:
    row: int
    values: dict[str, PreviewCell]
    reasons: list[str]
    # False: the row is rejected; true with reasons: imported with those fields left blank (warnings).
    imported: bool = True

    @property
    def warned(self) -> bool:
        return self.imported and bool(self.reasons)


@dataclass
class Preview:
    headers: list[str]
    fields: list[str]
    rows: list[PreviewRow] = field(default_factory=list)
    sampled: int = 0
    sampled_rejected: int = 0
    sampled_warned: int = 0


PREVIEW_ROWS = 20
PREVIEW_SAMPLE = 2_000


def import_preview(*, job: ImportJob, path: Path) -> Preview:
    """The first rows as they will be stored, with each row's reasons (rejections or warnings), and
    an estimate of both."""
    source = source_open(path)
    try:
        batch = next(source_batches(source, batch_rows=PREVIEW_SAMPLE), None)
    finally:
        source.close()
    # The standard fields in the form's order, then the custom attributes ("attr:<name>").
    attributes = [t for t in job.mapping.values() if t.startswith(ATTRIBUTE_PREFIX)]
    fields = [f for f in FIELD_LABELS if f in job.mapping.values()] + attributes
    preview = Preview(headers=source.headers, fields=fields)
    if batch is None:
        return preview
    prepared = frame_prepare(batch=batch, mapping=job.mapping)
    preview.sampled = batch.height
    preview.sampled_rejected = prepared.rejected
    preview.sampled_warned = prepared.warned
    first = batch.head(PREVIEW_ROWS).get_column("_row").to_list()
    read = {r["_row"]: r for r in batch.head(PREVIEW_ROWS).iter_rows(named=True)}
    sources = {target: header for header, target in job.mapping.items() if target}
    valid = {r["_row"]: r for r in prepared.valid.filter(pl.col("_row").is_in(first)).iter_rows(named=True)}
    problems = {
        r["_row"]: r for r in prepared.problems.filter(pl.col("_row").is_in(first)).iter_rows(named=True)
    }
    for number in first:
        reasons = problems[number]["_messages"] if number in problems else []
        raw = {f: _raw_text(read[number].get(sources.get(f, ""))) for f in fields}
        if number in valid:
            # As it will be stored (a field with a warning is blank), the file's text on hover.
            stored = {**valid[number], **_attribute_values(valid[number]["attributes"])}
            values = {f: _cell(field=f, stored=stored.get(f), raw=raw[f]) for f in fields}
            preview.rows.append(PreviewRow(row=number, values=values, reasons=reasons))
        else:
            # A rejected row is stored nowhere: it is shown as it was read, with what is wrong with it.
            values = {f: PreviewCell(value=raw[f].strip(), raw=raw[f]) for f in fields}
            preview.rows.append(PreviewRow(row=number, values=values, reasons=reasons, imported=False))
    return preview


# What a file may write for "other" on purpose; any other word the origin list does not know is
# stored as "other" too, and the preview says it was not recognised.
_ORIGIN_OTHER_WORDS = frozenset({"other", "outro", "outros", "outra", "outras"})


def _cell(*, field: str, stored: object, raw: str) -> PreviewCell:
    if field == "origin" and stored:
        unknown = stored == Origin.OTHER and fold(raw.strip()) not in _ORIGIN_OTHER_WORDS
        return PreviewCell(value=str(Origin(str(stored)).label), raw=raw, unknown=unknown)
    return PreviewCell(value=_display(stored), raw=raw)


def _raw_text(value: object) -> str:
    return "" if value is None else str(value)


def _attribute_values(attributes: str | None) -> dict[str, object]:
    """A prepared row's custom attributes (JSON text) keyed as the mapping names them."""
    return {ATTRIBUTE_PREFIX + k: v for k, v in json.loads(attributes or "{}").items()}


def _display(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "strftime"):
        return value.strftime("%d/%m/%Y")
    return str(value)


def rejected_rows_table(*, job: ImportJob) -> Iterator[list[str]]:
    """The rows with problems: row number, status (rejected, or imported with warnings), reasons and
    the original columns, ready to fix and import again (the first three columns are not standard
    fields: the mapping leaves them out). The header first, then one list of texts a row."""
    headers = list(job.headers)
    statuses = {
        False: pgettext("import row status", "rejected"),
        True: pgettext("import row status", "imported with warnings"),
    }
    yield [str(_("Row")), str(_("Status")), str(_("Reasons")), *headers]
    rows = job.rejected_rows.order_by("row_number").values_list("row_number", "imported", "reasons", "data")
    for number, imported, reasons, data in rows.iterator(chunk_size=2_000):
        extra = [str(data[EXTRA_KEY])] if EXTRA_KEY in data else []
        values = [str(data.get(h, "")) for h in headers]
        yield [str(number), statuses[imported], " | ".join(reasons), *values, *extra]


@dataclass(frozen=True)
class RejectedRowShown:
    """A row with problems as the import's page shows it: its non-empty cells in the file's column
    order (`job.headers`; the row is stored as jsonb, which keeps no key order)."""

    row_number: int
    imported: bool
    reasons: list[str]
    cells: list[tuple[str, str]]


def rejected_row_cells(*, headers: list[str], data: dict[str, object]) -> list[tuple[str, str]]:
    """A stored row's non-empty cells in the file's column order; cells of no known column (the
    extra cells of a long row) last."""
    order = [*headers, *(key for key in data if key not in headers)]
    return [(key, str(data[key])) for key in order if data.get(key) not in (None, "")]


def rejected_rows_first(*, job: ImportJob, limit: int) -> list[RejectedRowShown]:
    """The first `limit` rows with problems, by row number, for the import's page."""
    headers = list(job.headers)
    rows = job.rejected_rows.order_by("row_number").values_list("row_number", "imported", "reasons", "data")
    return [
        RejectedRowShown(
            row_number=number,
            imported=imported,
            reasons=list(reasons),
            cells=rejected_row_cells(headers=headers, data=data if isinstance(data, dict) else {}),
        )
        for number, imported, reasons, data in rows[:limit]
    ]


def rejected_rows_csv(*, job: ImportJob) -> Iterator[str]:
    """`rejected_rows_table` as a `;` CSV in UTF-8 with a BOM (for Excel), no cell a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    buffer.write("\ufeff")
    for cells in rejected_rows_table(job=job):
        writer.writerow([csv_safe(cell) for cell in cells])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def import_job_is_draft(*, job: ImportJob) -> bool:
    """Whether the job is a draft: uploaded (maybe mapped) but never queued."""
    return job.status == ImportStatus.UPLOADED and job.attempt == 0


def import_job_list() -> QuerySet[ImportJob]:
    """The import history, newest first; each job says whether its columns were ever mapped
    (`mapped`: a draft continues at its preview, else at its mapping)."""
    mapped = AuditEntry.objects.filter(
        action=AuditAction.IMPORT_MAPPING_SAVED,
        target_type=AuditTarget.IMPORT,
        target_id=Cast(OuterRef("pk"), output_field=CharField()),
    )
    return ImportJob.objects.annotate(mapped=Exists(mapped)).order_by("-created_at")


def import_progress_key(*, job: ImportJob) -> str:
    return f"import-progress:{job.pk}"


def import_job_live(*, job: ImportJob) -> ImportJob:
    """The job with the counters of a run still in progress. A first import of a whole base counts
    inside its one transaction, where nobody else can see the job row change: the run also leaves
    its counters in the cache (schema-prefixed keys) for the progress page."""
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        live = cache.get(import_progress_key(job=job))
        if live is not None:
            job.total_rows = max(job.total_rows, live["total_rows"])
            job.rejected = max(job.rejected, live["rejected"])
            job.warned = max(job.warned, live.get("warned", 0))
    return job


def import_lease_name(*, job: ImportJob) -> str:
    """The lease a run of `job` holds (crm.leases): alive while its process is."""
    return f"import:{job.pk}:{job.attempt}"


def import_job_cancellable(*, job: ImportJob) -> bool:
    """Whether cancelling can still stop `job`: queued, or running but still reading its file (once
    it writes the base it finishes; a request then would only be ignored)."""
    if job.status == ImportStatus.QUEUED:
        return True
    return job.status == ImportStatus.RUNNING and not lease_stop_closed(name=import_lease_name(job=job))
