"""The import pipeline on 1,000,000 affiliate rows, beside raw COPY, bulk_create and
django-import-export reading the same file."""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from django.db import connection
from django_tenants.utils import tenant_context

from devtools.benchmarks import Result, benchmark
from devtools.services import VAR
from tenants.selectors import udn_list
from tenants.services import udn_provision

ROWS = 1_000_000
# The slower baselines read the head of the same file: their rate is flat in the row count,
# and a full million through django-import-export would take the better part of an hour.
BULK_CREATE_ROWS = 100_000
IMPORT_EXPORT_ROWS = 5_000
FILE_VERSION = 2
HEADER = [
    "Código",
    "Nome completo",
    "CPF",
    "Celular",
    "E-mail",
    "Data de nascimento",
    "Cidade",
    "UF",
    "Plano",
    "Mensalidade",
    "Origem",
]
FIRST = [
    "Maria",
    "José",
    "Ana",
    "João",
    "Antônio",
    "Francisca",
    "Carlos",
    "Paulo",
    "Adriana",
    "Lucas",
    "Juliana",
    "Marcos",
    "Patrícia",
    "Luiz",
    "Aline",
    "Gabriel",
    "Fernanda",
    "Rafael",
    "Camila",
    "Bruno",
]
LAST = [
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Lopes",
    "Soares",
    "Fernandes",
    "Vieira",
    "Barbosa",
]
CITIES = [
    ("São Paulo", "SP", "11"),
    ("Rio de Janeiro", "RJ", "21"),
    ("Belo Horizonte", "MG", "31"),
    ("Salvador", "BA", "71"),
    ("Fortaleza", "CE", "85"),
    ("Recife", "PE", "81"),
    ("Curitiba", "PR", "41"),
    ("Porto Alegre", "RS", "51"),
    ("Manaus", "AM", "92"),
    ("Goiânia", "GO", "62"),
]
PLANS = [
    ("Essencial", "49,90"),
    ("Família", "89,90"),
    ("Família Plus", "1.234,56"),
    ("Empresarial", "199,00"),
]
ORIGINS = ["Loja", "site", "WhatsApp", "parceiro", "Indicação"]


def _pick(values: list[str], seed: pl.Expr) -> pl.Expr:
    return pl.lit(pl.Series(values)).get(seed % len(values))


def _cpf_digits(base: pl.Expr) -> pl.Expr:
    """Nine digits → a valid 11-digit CPF (check digits computed, vectorised)."""
    digits = [(base // 10 ** (8 - i)) % 10 for i in range(9)]
    first = sum((10 - i) * d for i, d in enumerate(digits)) * 10 % 11 % 10
    second = (sum((11 - i) * d for i, d in enumerate(digits)) + 2 * first) * 10 % 11 % 10
    return base.cast(pl.Utf8).str.zfill(9) + first.cast(pl.Utf8) + second.cast(pl.Utf8)


def bench_file(rows: int = ROWS) -> Path:
    """A deterministic, realistic CSV as Brazilian teams export it (`;`, punctuation, ~5% broken rows)."""
    path = VAR / "bench" / f"affiliates_{rows}_v{FILE_VERSION}.csv"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    n = pl.int_range(0, rows, dtype=pl.Int64)
    h = (n * 2654435761 + 12345) % 4294967291  # a cheap deterministic scramble
    cpf = _cpf_digits(100_000_000 + h % 800_000_000)
    city = h % len(CITIES)
    frame = pl.select(
        ("UDN-" + n.cast(pl.Utf8)).alias("Código"),
        (_pick(FIRST, h) + " " + _pick(LAST, h // 7) + " " + _pick(LAST, h // 11)).alias("Nome completo"),
        pl.when(h % 2 == 0)
        .then(
            cpf.str.slice(0, 3)
            + "."
            + cpf.str.slice(3, 3)
            + "."
            + cpf.str.slice(6, 3)
            + "-"
            + cpf.str.slice(9, 2)
        )
        .when(h % 20 == 1)
        .then(pl.lit("123.456.789-00"))  # broken check digits
        .otherwise(cpf)
        .alias("CPF"),
        pl.when(h % 20 == 3)
        .then((h % 90_000_000 + 10_000_000).cast(pl.Utf8))  # no area code
        .otherwise(
            "("
            + _pick([c[2] for c in CITIES], city)
            + ") 9"
            + (h % 9000 + 1000).cast(pl.Utf8)
            + "-"
            + (h // 3 % 9000 + 1000).cast(pl.Utf8)
        )
        .alias("Celular"),
        pl.when(h % 25 == 5)
        .then(pl.lit("sem-arroba.com"))
        .otherwise("pessoa" + n.cast(pl.Utf8) + "@exemplo.com.br")
        .alias("E-mail"),
        (
            (h % 28 + 1).cast(pl.Utf8).str.zfill(2)
            + "/"
            + (h // 5 % 12 + 1).cast(pl.Utf8).str.zfill(2)
            + "/"
            + (1950 + h % 55).cast(pl.Utf8)
        ).alias("Data de nascimento"),
        _pick([c[0] for c in CITIES], city).alias("Cidade"),
        _pick([c[1] for c in CITIES], city).alias("UF"),
        _pick([p[0] for p in PLANS], h // 13).alias("Plano"),
        _pick([p[1] for p in PLANS], h // 13).alias("Mensalidade"),
        _pick(ORIGINS, h // 17).alias("Origem"),
    )
    frame.write_csv(path, separator=";")
    return path


_counter = itertools.count(1)


def _fresh_udn():
    slug = f"imp-{next(_counter):02d}"
    while udn_list().filter(slug=slug).exists():
        slug = f"imp-{next(_counter):02d}"
    return udn_provision(name=f"Bench {slug}", slug=slug)


def _pipeline(path: Path) -> float:
    from crm.services.imports import affiliates_import, import_job_create, import_mapping_save

    with tenant_context(_fresh_udn()):
        started = time.perf_counter()
        job = import_job_create(path=path, source="bench")
        import_mapping_save(job=job, mapping=job.mapping)
        job = affiliates_import(job=job, path=path)
        elapsed = time.perf_counter() - started
        assert job.created + job.rejected == ROWS, (job.created, job.rejected, job.duplicates)
    return ROWS / elapsed


def _raw_copy(path: Path) -> float:
    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with tenant_context(_fresh_udn()), connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE raw_copy ({columns})")
        started = time.perf_counter()
        with (
            path.open("rb") as source,
            cursor.copy("COPY raw_copy FROM STDIN (FORMAT csv, DELIMITER ';', HEADER)") as copy,
        ):
            while chunk := source.read(1024 * 1024):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
    return ROWS / elapsed


def _head(path: Path, rows: int) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from itertools.islice(csv.DictReader(handle, delimiter=";"), rows)


def _bulk_create(path: Path) -> float:
    """The ORM's bulk_create on the raw values (no normalisation, no upsert: a lower bound of work)."""
    from crm.models import Affiliate

    with tenant_context(_fresh_udn()):
        started = time.perf_counter()
        batch = []
        for row in _head(path, BULK_CREATE_ROWS):
            batch.append(
                Affiliate(
                    external_id=row["Código"],
                    name=row["Nome completo"],
                    cpf="",
                    phone="",
                    email="",
                    city=row["Cidade"],
                    state=row["UF"],
                    plan=row["Plano"],
                )
            )
            if len(batch) == 5_000:
                Affiliate.objects.bulk_create(batch)
                batch = []
        Affiliate.objects.bulk_create(batch)
        elapsed = time.perf_counter() - started
    return BULK_CREATE_ROWS / elapsed


def _import_export(path: Path) -> float:
    """django-import-export's ModelResource.import_data (its usual path, with upsert by external id)."""
    import tablib
    from import_export import fields, resources

    from crm.models import Affiliate

    class AffiliateResource(resources.ModelResource):
        external_id = fields.Field(attribute="external_id", column_name="Código")
        name = fields.Field(attribute="name", column_name="Nome completo")
        city = fields.Field(attribute="city", column_name="Cidade")
        state = fields.Field(attribute="state", column_name="UF")
        plan = fields.Field(attribute="plan", column_name="Plano")

        class Meta:
            model = Affiliate
            import_id_fields = ("external_id",)
            fields = ("external_id", "name", "city", "state", "plan")
            use_bulk = True
            batch_size = 1_000

    rows = list(_head(path, IMPORT_EXPORT_ROWS))
    dataset = tablib.Dataset(headers=list(rows[0]))
    for row in rows:
        dataset.append(list(row.values()))
    with tenant_context(_fresh_udn()):
        started = time.perf_counter()
        result = AffiliateResource().import_data(dataset, dry_run=False, raise_errors=True)
        elapsed = time.perf_counter() - started
        assert not result.has_errors()
    return IMPORT_EXPORT_ROWS / elapsed


@benchmark("import")
def imports() -> Iterator[Result]:
    path = bench_file()
    raw = _raw_copy(path)
    ours = _pipeline(path)
    target = "≥ 100,000 rows/s (1,000,000 rows, normalised, validated, upserted)"
    yield Result("import.rows_per_second", ours, "rows/s", target, "raw COPY of the same file", raw)
    bulk = _bulk_create(path)
    yield Result(
        "import.vs_bulk_create",
        ours,
        "rows/s",
        target,
        f"ORM bulk_create ({BULK_CREATE_ROWS:,} rows, no normalisation)",
        bulk,
    )
    iex = _import_export(path)
    yield Result(
        "import.vs_django_import_export",
        ours,
        "rows/s",
        target,
        f"django-import-export import_data ({IMPORT_EXPORT_ROWS:,} rows)",
        iex,
    )
