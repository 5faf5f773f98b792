"""Importing real-world affiliate files: every format teams export, and broken rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context

from crm.models import Affiliate, AffiliateChange, ColumnMapping, ImportJob, ImportStatus
from crm.readers import ImportFileError
from crm.selectors.imports import import_job_live, import_mapping_suggest, rejected_rows_csv
from crm.services.imports import affiliates_import, first_load, import_job_create, import_mapping_save

FIXTURES = Path(__file__).parent / "fixtures"
UGLY = FIXTURES / "ugly_affiliates_cp1252.csv"


@pytest.fixture
def ugly_file(tmp_path) -> Path:
    target = tmp_path / "base_udn.csv"
    shutil.copy(UGLY, target)
    return target


def run_command(path: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command("import_affiliates", "--udn", "alpha", str(path), *extra, stdout=out)
    return out.getvalue()


def test_an_ugly_windows_1252_semicolon_file_keeps_valid_rows_and_every_rejected_reason(udn_a, ugly_file):
    output = run_command(ugly_file)

    assert (
        "created 7, updated 0, unchanged 0, rejected 4, imported with warnings 3 (rows repeated in the file: 1)"
        in output
    )
    with tenant_context(udn_a):
        maria = Affiliate.objects.get(external_id="A001")
        assert maria.name == "Maria da Silva"
        assert maria.cpf == "39825979194"
        assert maria.phone == "+5511987654321"
        assert maria.email == "maria.nova@exemplo.com.br"  # the newest non-blank value wins...
        assert maria.birth_date == dt.date(1985, 3, 5)  # ...and blanks in the newer row erase nothing
        assert maria.plan_fee == Decimal("1234.56")
        assert (maria.city, maria.state, maria.origin) == ("São Paulo", "SP", "store")
        assert maria.time_zone == "America/Sao_Paulo"
        lucia = Affiliate.objects.get(cpf="12904047980")  # no code: known by the CPF
        assert lucia.external_id == "cpf:12904047980" and lucia.phone == "+5531988887777"
        beatriz = Affiliate.objects.get(external_id="A007")
        assert beatriz.name == "Beatriz; Costa" and beatriz.state == "SP" and beatriz.origin == "whatsapp"
        assert beatriz.birth_date == dt.date(2000, 1, 1) and beatriz.plan_fee == Decimal("99.00")
        # Bad optional fields only (phone without DDD, landline, impossible birth date): imported, blank there.
        assert Affiliate.objects.get(external_id="A004").phone == ""
        assert Affiliate.objects.get(external_id="A008").phone == ""
        fernanda = Affiliate.objects.get(external_id="A009")
        assert fernanda.birth_date is None and fernanda.phone == "+5511987654321"
        job = ImportJob.objects.get()
        assert job.status == ImportStatus.DONE and (job.rejected, job.warned) == (4, 3)
        rejected = {row.row_number: row for row in job.rejected_rows.all()}
    assert sorted(rejected) == [4, 5, 8, 9, 11, 12, 13]
    assert [n for n, row in sorted(rejected.items()) if row.imported] == [5, 12, 13]
    assert len(rejected[4].reasons) == 3  # CPF, e-mail and birth date, all at once
    assert rejected[4].data["Nome completo"] == "Ana Paula Ribeiro"  # the row as read, accents intact
    assert rejected[9].data["+"]  # the value beyond the header is kept too
    report = ugly_file.with_name("base_udn.csv.problems.csv")
    assert report.exists()
    lines = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert lines[0][3:] == [h for h in UGLY.read_bytes().decode("cp1252").splitlines()[0].split(";")]
    assert [line[0] for line in lines[1:]] == ["4", "5", "8", "9", "11", "12", "13"]


def test_importing_the_same_file_again_changes_nothing(udn_a, ugly_file):
    run_command(ugly_file)
    output = run_command(ugly_file)

    assert "created 0, updated 0, unchanged 7, rejected 4, imported with warnings 3" in output
    with tenant_context(udn_a):
        assert Affiliate.objects.count() == 7


def test_what_an_import_changes_is_recorded_and_blanks_never_erase(udn_a, tmp_path):
    first = tmp_path / "v1.csv"
    first.write_text("codigo,nome,cpf,celular,email\nX1,Rosa Lima,52998224725,11 98888-1234,rosa@ex.com\n")
    second = tmp_path / "v2.csv"
    second.write_text("codigo,nome,cpf,celular,email\nX1,Rosa Lima,52998224725,,rosa.lima@ex.com\n")
    run_command(first)

    output = run_command(second)

    assert "created 0, updated 1, unchanged 0" in output
    with tenant_context(udn_a):
        rosa = Affiliate.objects.get(external_id="X1")
        assert rosa.email == "rosa.lima@ex.com" and rosa.phone == "+5511988881234"
        change = AffiliateChange.objects.get(affiliate=rosa)
        assert change.changes == {"email": ["rosa@ex.com", "rosa.lima@ex.com"]}
        assert change.source == "import"


def test_a_utf8_bom_comma_file_with_other_header_names_imports(udn_a, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "ID Cliente,Nome do Cliente,Documento,WhatsApp,Correio eletrônico,Nascimento,Município,Estado,Tags\n"
        '7,"Souza, Júlia",529.982.247-25,+55 11 9 7777-6666,JULIA@EX.COM,7/4/1999,Niterói,rio de janeiro,"vip; app"\n',
        encoding="utf-8-sig",
    )

    output = run_command(path)

    assert "created 1" in output
    with tenant_context(udn_a):
        julia = Affiliate.objects.get(external_id="7")
    assert julia.name == "Souza, Júlia" and julia.email == "julia@ex.com"
    assert julia.state == "RJ" and julia.phone == "+5511977776666"
    assert julia.birth_date == dt.date(1999, 4, 7) and julia.tags == ["vip", "app"]


def test_an_xlsx_export_with_real_dates_and_numeric_cpfs_imports(udn_a, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Código", "Nome", "CPF", "Telefone", "Data de Nascimento", "Valor do plano", "Origem"])
    sheet.append([101, "Otávio Nunes", 1234567890, 11987651234, dt.datetime(1980, 5, 17), 79.9, "Parceiro"])
    sheet.append([102, "", 52998224725, 11987651235, dt.datetime(1981, 1, 1), 10, "site"])
    sheet.append([None, None, None, None, None, None, None])  # styled empty rows at the end
    path = tmp_path / "planilha.xlsx"
    workbook.save(path)

    output = run_command(path)

    assert "created 1, updated 0, unchanged 0, rejected 1" in output
    with tenant_context(udn_a):
        otavio = Affiliate.objects.get(external_id="101")
    assert otavio.cpf == "01234567890"  # Excel dropped the leading zero
    assert otavio.birth_date == dt.date(1980, 5, 17)
    assert otavio.plan_fee == Decimal("79.90") and otavio.origin == "partner"


def test_the_usual_portuguese_headers_are_recognised(udn_a):
    headers = [
        "Código",
        "Nome Completo",
        "CPF",
        "Celular",
        "E-mail",
        "Data de nascimento",
        "Cidade",
        "UF",
        "Plano",
        "Origem",
        "Observação",
    ]
    with tenant_context(udn_a):
        mapping = import_mapping_suggest(headers=headers)
    assert mapping == {
        "Código": "external_id",
        "Nome Completo": "name",
        "CPF": "cpf",
        "Celular": "phone",
        "E-mail": "email",
        "Data de nascimento": "birth_date",
        "Cidade": "city",
        "UF": "state",
        "Plano": "plan",
        "Origem": "origin",
        "Observação": "",
    }
    assert import_mapping_suggest.__doc__


def test_a_chosen_mapping_is_remembered_for_the_next_import(udn_a, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("Matr,Quem,Documento\n1,Ana,52998224725\n")
    with tenant_context(udn_a):
        job = import_job_create(path=path)
        assert job.mapping == {"Matr": "", "Quem": "", "Documento": "cpf"}
        import_mapping_save(job=job, mapping={"Matr": "external_id", "Quem": "name", "Documento": "cpf"})
        assert ColumnMapping.objects.filter(header="quem", field="name").exists()

        again = import_job_create(path=path)
    assert again.mapping == {"Matr": "external_id", "Quem": "name", "Documento": "cpf"}


def test_a_mapping_without_name_or_key_is_refused_with_reasons(udn_a, tmp_path):
    from django.core.exceptions import ValidationError

    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n")
    with tenant_context(udn_a):
        job = import_job_create(path=path)
        with pytest.raises(ValidationError) as excinfo:
            import_mapping_save(job=job, mapping={"a": "phone", "b": "phone"})
    assert len(excinfo.value.messages) == 3  # phone twice, no name, no key


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02binary\x00", b"just one word\n"])
def test_an_unreadable_file_fails_clearly_and_exits_non_zero(udn_a, tmp_path, content):
    path = tmp_path / "broken.csv"
    path.write_bytes(content)

    with pytest.raises(CommandError):
        run_command(path)
    with pytest.raises(CommandError, match="missing.csv"):
        run_command(tmp_path / "missing.csv")


@pytest.mark.parametrize("initial_load_min_rows", [5, 1_000], ids=["initial load", "general way"])
def test_rows_are_read_in_batches_and_progress_is_reported(
    udn_a, tmp_path, monkeypatch, initial_load_min_rows
):
    """Progress reaches the caller batch by batch, and the progress page: through the cache, since
    an initial load counts inside its one transaction."""
    import crm.readers

    monkeypatch.setattr(crm.readers, "BATCH_ROWS", 3)
    monkeypatch.setattr(first_load, "INITIAL_LOAD_MIN_ROWS", initial_load_min_rows)
    lines = ["codigo;nome"] + [f"{i};Pessoa {i}" for i in range(9)] + ["9;"]  # the last row is rejected
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    seen: list[tuple[int, int, int]] = []

    def on_progress(job: ImportJob) -> None:
        live = import_job_live(job=ImportJob(pk=job.pk, status=ImportStatus.RUNNING))
        seen.append((job.total_rows, live.total_rows, live.rejected))

    with tenant_context(udn_a):
        job = import_job_create(path=path)
        assert job.expected_rows == 10
        import_mapping_save(job=job, mapping={"codigo": "external_id", "nome": "name"})
        job = affiliates_import(job=job, on_progress=on_progress)
    monkeypatch.undo()
    assert (job.created, job.rejected) == (9, 1)
    assert seen == [(3, 3, 0), (6, 6, 0), (9, 9, 0), (10, 10, 1)]


def test_rejected_rows_download_keeps_the_original_columns(udn_a, ugly_file):
    run_command(ugly_file)
    with tenant_context(udn_a):
        job = ImportJob.objects.get()
        content = "".join(rejected_rows_csv(job=job))
    assert content.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 1 + 7
    by_row = {r[0]: r for r in rows[1:]}
    assert by_row["11"][4] == "Sem Código"


def test_an_unreadable_upload_never_creates_a_job(udn_a, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with tenant_context(udn_a):
        with pytest.raises(ImportFileError):
            import_job_create(path=path)
        assert not ImportJob.objects.exists()


# Codes repeated within and across batches, rows without a code (one known by a later row's CPF,
# two sharing a CPF nobody's code has, one whose "cpf:<CPF>" key a code spells out), tags, custom
# attributes and a rejected row: everything the initial load must merge as the general way does.
REPEATS = """codigo;nome;cpf;celular;email;tags;obs;canal
A1;Ana Souza;52998224725;11 98888-1234;ana@ex.com;vip;primeira;
B1;Bruno Lima;;;bruno@ex.com;;;loja
;Ana S.;52998224725;;ana.nova@ex.com;;;app
A1;Ana Souza Lima;;11 97777-0000;;;;site
;Carla Dias;39825979194;;;;;
D1;Dora Reis;52998224725;;;amiga;;
;Carla D.;39825979194;;carla@ex.com;;x;
E1;Edu;;;;;;
F1;Fábio;123.456.789-00;;;;;
cpf:12904047980;Lia;;;;;;
;Lia Alves;12904047980;;lia@ex.com;;;
"""
REPEATS_MAPPING = {
    "codigo": "external_id",
    "nome": "name",
    "cpf": "cpf",
    "celular": "phone",
    "email": "email",
    "tags": "tags",
    "obs": "attr:obs",
    "canal": "attr:canal",
}
AFFILIATE_FIELDS = [
    "external_id", "cpf", "name", "email", "phone", "birth_date", "city", "state", "plan", "plan_fee",
    "origin", "stage", "tier", "total_cash_in", "time_zone", "tags", "attributes",
    "consent_email", "consent_whatsapp", "consent_sms", "consent_push",
]  # fmt: skip
JOB_COUNTERS = ["status", "total_rows", "created", "updated", "unchanged", "rejected", "warned", "duplicates"]


def import_into(udn, path: Path, monkeypatch, *, initial_load_min_rows: int) -> tuple[dict, list[dict]]:
    """Import `path` in batches of 3 rows; return the job's counters and the affiliates."""
    import crm.readers

    monkeypatch.setattr(crm.readers, "BATCH_ROWS", 3)
    monkeypatch.setattr(first_load, "INITIAL_LOAD_MIN_ROWS", initial_load_min_rows)
    with tenant_context(udn):
        job = import_job_create(path=path)
        import_mapping_save(job=job, mapping=REPEATS_MAPPING)
        job = affiliates_import(job=job)
        affiliates = list(Affiliate.objects.order_by("external_id").values(*AFFILIATE_FIELDS))
    return {name: getattr(job, name) for name in JOB_COUNTERS}, affiliates


def affiliate_schema() -> list[tuple]:
    """The affiliate table's indexes, constraints and column defaults, to compare after a load."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT 'index', relname, regexp_replace(pg_get_indexdef(indexrelid), ' ON \\S+', ' ON')
            FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid
            WHERE indrelid = 'crm_affiliate'::regclass
            UNION ALL
            SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = 'crm_affiliate'::regclass
            UNION ALL
            SELECT 'default', attname, pg_get_expr(adbin, adrelid) FROM pg_attrdef
            JOIN pg_attribute ON attrelid = adrelid AND attnum = adnum
            WHERE adrelid = 'crm_affiliate'::regclass
            ORDER BY 1, 2
            """
        )
        return cursor.fetchall()


def test_an_initial_load_merges_repeated_rows_and_rows_without_a_code_as_the_general_way_does(
    udn_a, udn_b, tmp_path, monkeypatch
):
    path = tmp_path / "repeats.csv"
    path.write_text(REPEATS)
    with tenant_context(udn_b):
        schema_before = affiliate_schema()
    initial_loads: list[int] = []
    original = first_load.initial_load

    def spy(*args):
        counts = original(*args)
        initial_loads.append(counts is not None)
        return counts

    monkeypatch.setattr(first_load, "initial_load", spy)

    general_job, general = import_into(udn_b, path, monkeypatch, initial_load_min_rows=1_000_000)
    initial_job, initial = import_into(udn_a, path, monkeypatch, initial_load_min_rows=1)

    assert initial_loads == [True]
    assert initial == general
    assert initial_job == general_job
    assert general_job == {
        "status": ImportStatus.DONE,
        "total_rows": 11,
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "warned": 0,
        "duplicates": 4,
    }
    by_key = {affiliate["external_id"]: affiliate for affiliate in initial}
    assert sorted(by_key) == ["A1", "B1", "D1", "E1", "cpf:12904047980", "cpf:39825979194"]
    ana = by_key["A1"]
    assert (ana["name"], ana["phone"], ana["email"]) == ("Ana Souza Lima", "+5511977770000", "ana@ex.com")
    assert ana["tags"] == ["vip"] and ana["attributes"] == {"obs": "primeira", "canal": "site"}
    dora = by_key["D1"]  # the row without a code took the code of the newest row with its CPF
    assert (dora["name"], dora["email"], dora["tags"]) == ("Dora Reis", "ana.nova@ex.com", ["amiga"])
    assert dora["attributes"] == {"canal": "app"}
    assert by_key["cpf:39825979194"]["email"] == "carla@ex.com"
    assert by_key["cpf:12904047980"]["name"] == "Lia Alves"
    assert by_key["E1"]["attributes"] == {"obs": "", "canal": ""}  # a single row keeps what it has
    with tenant_context(udn_a):
        assert affiliate_schema() == schema_before  # indexes and the unique key rebuilt, no defaults left
        assert not AffiliateChange.objects.exists()


def test_an_initial_load_that_fails_leaves_the_base_as_it_was(udn_a, tmp_path, monkeypatch):
    path = tmp_path / "repeats.csv"
    path.write_text(REPEATS)
    with tenant_context(udn_a):
        schema_before = affiliate_schema()

    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(first_load, "_merge_repeated", broken)
    with pytest.raises(RuntimeError):
        import_into(udn_a, path, monkeypatch, initial_load_min_rows=1)

    with tenant_context(udn_a):
        assert not Affiliate.objects.exists()
        assert affiliate_schema() == schema_before
        job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED and "disk full" in job.error


def test_an_initial_load_into_a_base_filled_meanwhile_takes_the_general_way(udn_a, tmp_path, monkeypatch):
    path = tmp_path / "repeats.csv"
    path.write_text(REPEATS)
    with tenant_context(udn_a):
        Affiliate.objects.create(external_id="A1", name="Ana", email="ana.antiga@ex.com")
    # As if another import had filled the base between the first look and the lock.
    monkeypatch.setattr(first_load, "initial_load_fits", lambda *_args: True)

    job, affiliates = import_into(udn_a, path, monkeypatch, initial_load_min_rows=1)

    assert (job["created"], job["updated"]) == (5, 1)
    with tenant_context(udn_a):
        assert AffiliateChange.objects.exclude(changes={}).get().changes["name"] == ["Ana", "Ana Souza Lima"]
        # The base was not empty: each affiliate created has its creation recorded, linked to the job.
        created = AffiliateChange.objects.filter(changes={}, import_job__isnull=False, source="import")
        assert created.count() == 5 and not created.filter(affiliate__external_id="A1").exists()


@pytest.mark.parametrize(
    ("min_rows", "max_rows", "initial"), [(1, 1_000, True), (1_000, 10_000, False), (1, 3, False)]
)
def test_only_a_big_file_within_the_memory_bound_takes_the_initial_load(
    udn_a, tmp_path, monkeypatch, min_rows, max_rows, initial
):
    path = tmp_path / "repeats.csv"
    path.write_text(REPEATS)
    monkeypatch.setattr(first_load, "INITIAL_LOAD_MAX_ROWS", max_rows)
    taken: list[bool] = []
    real = first_load.initial_load
    monkeypatch.setattr(first_load, "initial_load", lambda *args: taken.append(True) or real(*args))

    job, _affiliates = import_into(udn_a, path, monkeypatch, initial_load_min_rows=min_rows)

    assert bool(taken) is initial
    assert job["status"] == ImportStatus.DONE


# --- ugly files: every good row survives one bad line ----------------------------------------------


def import_file(udn, path: Path, mapping: dict[str, str]) -> ImportJob:
    with tenant_context(udn):
        job = import_job_create(path=path)
        import_mapping_save(job=job, mapping=mapping)
        return affiliates_import(job=job)


def test_an_unclosed_quote_rejects_only_its_row_saying_why_and_the_rows_after_it_import(udn_a, tmp_path):
    path = tmp_path / "aspas.csv"
    path.write_text('codigo;nome\n1;Ana\n2;"Bruno Lima\n3;Carla\n4;Dora\n')

    job = import_file(udn_a, path, {"codigo": "external_id", "nome": "name"})

    assert job.status == ImportStatus.DONE and (job.total_rows, job.created, job.rejected) == (4, 3, 1)
    with tenant_context(udn_a):
        assert sorted(Affiliate.objects.values_list("name", flat=True)) == ["Ana", "Carla", "Dora"]
        bad = job.rejected_rows.get()
    assert bad.row_number == 3 and bad.data == {"codigo": "2", "nome": '"Bruno Lima'}
    assert bad.reasons == ['aspas (") não fechadas corretamente (a linha foi lida como texto simples)']


def test_a_quoted_value_with_a_line_break_still_reads_as_one_row(udn_a, tmp_path):
    path = tmp_path / "quebra.csv"
    path.write_text('codigo;nome;obs\n1;Ana;"linha 1\nlinha 2"\n2;Bruno;\n')

    job = import_file(udn_a, path, {"codigo": "external_id", "nome": "name", "obs": "attr:obs"})

    assert (job.created, job.rejected) == (2, 0)
    with tenant_context(udn_a):
        assert Affiliate.objects.get(external_id="1").attributes == {"obs": "linha 1\nlinha 2"}


def test_a_quote_in_the_header_loses_no_rows(udn_a, tmp_path):
    path = tmp_path / "cabecalho.csv"
    path.write_text('codigo;"nome\n1;Ana\n2;Bruno\n')

    with tenant_context(udn_a):
        assert import_job_create(path=path).headers == ["codigo", "nome"]
    job = import_file(udn_a, path, {"codigo": "external_id", "nome": "name"})

    assert (job.total_rows, job.created, job.rejected) == (2, 2, 0)


@pytest.mark.parametrize("initial_load_min_rows", [1, 1_000_000], ids=["initial load", "general way"])
def test_tags_and_attributes_with_quotes_and_backslashes_round_trip(
    udn_a, tmp_path, monkeypatch, initial_load_min_rows
):
    monkeypatch.setattr(first_load, "INITIAL_LOAD_MIN_ROWS", initial_load_min_rows)
    path = tmp_path / "tags.csv"
    path.write_text('codigo;nome;tags;obs\n1;Ana;"vip ""ouro"", C:\\dir";"diz ""oi"" \\ tchau"\n')

    job = import_file(
        udn_a, path, {"codigo": "external_id", "nome": "name", "tags": "tags", "obs": "attr:obs"}
    )

    assert (job.status, job.created) == (ImportStatus.DONE, 1), job.error
    with tenant_context(udn_a):
        ana = Affiliate.objects.get(external_id="1")
    assert ana.tags == ['vip "ouro"', "c:\\dir"]  # tags are kept in lower case
    assert ana.attributes == {"obs": 'diz "oi" \\ tchau'}


def test_nul_bytes_deep_in_a_file_lose_no_rows(udn_a, tmp_path):
    lines = ["codigo;nome"] + [f"{i};Pessoa {i}" for i in range(2, 6002)]
    lines[5001] = "5002;Pes\x00soa\x00 5002"  # row 5,002, past the part looked at on upload
    path = tmp_path / "nul.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode())

    job = import_file(udn_a, path, {"codigo": "external_id", "nome": "name"})

    assert job.status == ImportStatus.DONE and (job.created, job.rejected) == (6000, 0)
    with tenant_context(udn_a):
        assert Affiliate.objects.get(external_id="5002").name == "Pessoa 5002"


def test_a_file_mixing_utf8_and_windows_1252_reads_each_line_right(udn_a, tmp_path):
    path = tmp_path / "misto.csv"
    path.write_bytes(
        "código;nome\n1;José Araújo\n".encode() + "2;João Conceição\n".encode("cp1252") + "3;Zoë\n".encode()
    )

    job = import_file(udn_a, path, {"código": "external_id", "nome": "name"})

    assert job.created == 3
    with tenant_context(udn_a):
        names = dict(Affiliate.objects.values_list("external_id", "name"))
    assert names == {"1": "José Araújo", "2": "João Conceição", "3": "Zoë"}


def _claim_whole_sheet(path: Path) -> None:
    """Rewrite the sheet's dimension as a sheet with a formatted whole row claims it."""
    import re
    import zipfile

    original = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(original)) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(
                    rb'<dimension ref="[^"]+"\s*/>', b'<dimension ref="A1:XFD1048576"/>', data
                )
                assert count == 1
            target.writestr(item, data)


def test_an_xlsx_claiming_the_whole_sheet_is_read_only_as_far_as_its_cells(udn_a, tmp_path, monkeypatch):
    from openpyxl import Workbook

    import crm.readers

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Código", "Nome"])
    sheet.append([1, "Ana"])
    sheet.append([2, "Bruno"])
    for number in range(4, 300):  # formatted, empty rows
        sheet.cell(row=number, column=1).number_format = "@"
    path = tmp_path / "planilha.xlsx"
    workbook.save(path)
    _claim_whole_sheet(path)
    cells_read = 0
    cell_text = crm.readers._cell_text

    def counting(value):
        nonlocal cells_read
        cells_read += 1
        return cell_text(value)

    monkeypatch.setattr(crm.readers, "_cell_text", counting)

    job = import_file(udn_a, path, {"Código": "external_id", "Nome": "name"})

    assert job.expected_rows == 2  # not the 1,048,575 the sheet claims
    assert (job.total_rows, job.created) == (2, 2)
    # Without the claimed width, each row holds its columns and a few beyond, not 16,384.
    assert cells_read < 300 * (2 + crm.readers.XLSX_EXTRA_CELLS) + 10


def test_a_file_wider_than_the_column_limit_is_refused_saying_so(udn_a, tmp_path):
    from crm.readers import MAX_COLUMNS

    path = tmp_path / "largo.csv"
    path.write_text(";".join(f"c{i}" for i in range(10_000)) + "\n" + ";".join("x" * 10_000) + "\n")

    with tenant_context(udn_a), pytest.raises(ImportFileError, match=f"10.000 .*{MAX_COLUMNS}"):
        import_job_create(path=path)


# --- bad optional fields: the row is imported with a warning, never lost -----------------------------


def import_as_marketer(udn, path: Path, mapping: dict[str, str], **settings) -> ImportJob:
    """Import `path` as the UI does, in Portuguese (the reasons are stored in the starter's language)."""
    with tenant_context(udn), translation.override("pt-br"), pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setattr(first_load, name, value)
        job = import_job_create(path=path)
        import_mapping_save(job=job, mapping=mapping)
        return affiliates_import(job=job)


PHONES = (
    "codigo;nome;celular;email;nascimento\n"
    "T1;Ana;98765-4321;ana@ex.com;\n"  # no DDD
    "T2;Bruno;(11) 3456-7890;;\n"  # a landline
    "T3;Carla;(11) 98765-4321;carla@;31/02/1990\n"  # bad e-mail and birth date
    "T4;Dora;(11) 98765-0000;dora@ex.com;\n"
    ";Eva;(11) 98765-1111;;\n"  # no code nor CPF: rejected
)
PHONES_MAPPING = {
    "codigo": "external_id",
    "nome": "name",
    "celular": "phone",
    "email": "email",
    "nascimento": "birth_date",
}


@pytest.mark.parametrize("initial_load_min_rows", [1, 1_000_000], ids=["initial load", "general way"])
def test_row_with_bad_phone_is_imported_with_a_warning(udn_a, tmp_path, initial_load_min_rows):
    path = tmp_path / "telefones.csv"
    path.write_text(PHONES)

    job = import_as_marketer(udn_a, path, PHONES_MAPPING, INITIAL_LOAD_MIN_ROWS=initial_load_min_rows)

    assert job.status == ImportStatus.DONE, job.error
    assert (job.total_rows, job.created, job.rejected, job.warned) == (5, 4, 1, 3)
    with tenant_context(udn_a):
        affiliates = {a.external_id: a for a in Affiliate.objects.all()}
        problems = {row.row_number: (row.imported, row.reasons) for row in job.rejected_rows.all()}
    assert sorted(affiliates) == ["T1", "T2", "T3", "T4"]
    ana = affiliates["T1"]
    assert (ana.name, ana.phone, ana.email) == ("Ana", "", "ana@ex.com")
    assert affiliates["T2"].phone == ""
    carla = affiliates["T3"]
    assert (carla.phone, carla.email, carla.birth_date) == ("+5511987654321", "", None)
    assert problems == {
        2: (True, ["telefone sem DDD"]),
        3: (True, ["telefone fixo (não é celular)"]),
        4: (True, ["e-mail inválido", "data de nascimento inválida"]),
        6: (False, ["sem código nem CPF"]),
    }


@pytest.mark.parametrize("initial_load_min_rows", [1, 1_000_000], ids=["initial load", "general way"])
def test_a_foreign_phone_is_a_warning_and_left_blank_brazilian_mobiles_only(
    udn_a, tmp_path, initial_load_min_rows
):
    path = tmp_path / "estrangeiros.csv"
    path.write_text(
        "codigo;nome;celular;email;nascimento\n"
        "F1;Fábio;+1 415 555 2671;fabio@ex.com;\n"
        "F2;Gil;0044 7911 123456;;\n"
        "F3;Hana;(21) 99876-5432;;\n"
    )

    job = import_as_marketer(udn_a, path, PHONES_MAPPING, INITIAL_LOAD_MIN_ROWS=initial_load_min_rows)

    assert job.status == ImportStatus.DONE, job.error
    assert (job.created, job.rejected, job.warned) == (3, 0, 2)
    with tenant_context(udn_a):
        phones = dict(Affiliate.objects.values_list("external_id", "phone"))
        problems = {row.row_number: (row.imported, row.reasons) for row in job.rejected_rows.all()}
    assert phones == {"F1": "", "F2": "", "F3": "+5521998765432"}
    foreign = ["telefone estrangeiro (só celulares do Brasil)"]
    assert problems == {2: (True, foreign), 3: (True, foreign)}


@pytest.mark.parametrize("initial_load_min_rows", [1, 1_000_000], ids=["initial load", "general way"])
def test_update_keeps_stored_phone_when_file_phone_is_invalid(udn_a, tmp_path, initial_load_min_rows):
    first = tmp_path / "v1.csv"
    first.write_text("codigo;nome;celular;email;nascimento\nX1;Rosa;11 98888-1234;rosa@ex.com;05/03/1985\n")
    second = tmp_path / "v2.csv"
    second.write_text("codigo;nome;celular;email;nascimento\nX1;Rosa Lima;3456-7890;rosa@;31/02/1985\n")
    import_as_marketer(udn_a, first, PHONES_MAPPING)

    # A base that is no longer empty never takes the initial load: the update goes the general way.
    job = import_as_marketer(udn_a, second, PHONES_MAPPING, INITIAL_LOAD_MIN_ROWS=initial_load_min_rows)

    assert (job.updated, job.rejected, job.warned) == (1, 0, 1)
    with tenant_context(udn_a):
        rosa = Affiliate.objects.get(external_id="X1")
        change = AffiliateChange.objects.get(affiliate=rosa, import_job=job)
    assert rosa.name == "Rosa Lima"
    assert (rosa.phone, rosa.email, rosa.birth_date) == ("+5511988881234", "rosa@ex.com", dt.date(1985, 3, 5))
    assert change.changes == {"name": ["Rosa", "Rosa Lima"]}  # the invalid values changed nothing


def test_problems_file_lists_rejected_and_warned_rows_with_status(udn_a, tmp_path):
    path = tmp_path / "telefones.csv"
    path.write_text(PHONES)
    job = import_as_marketer(udn_a, path, PHONES_MAPPING)

    with tenant_context(udn_a), translation.override("pt-br"):
        content = "".join(rejected_rows_csv(job=job))

    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Linha", "Status", "Motivos", "codigo", "nome", "celular", "email", "nascimento"]
    assert rows[1:] == [
        ["2", "importada com avisos", "telefone sem DDD", "T1", "Ana", "98765-4321", "ana@ex.com", ""],
        ["3", "importada com avisos", "telefone fixo (não é celular)", "T2", "Bruno", "(11) 3456-7890", "", ""],
        [
            "4", "importada com avisos", "e-mail inválido | data de nascimento inválida",
            "T3", "Carla", "(11) 98765-4321", "carla@", "31/02/1990",
        ],
        ["6", "rejeitada", "sem código nem CPF", "", "Eva", "(11) 98765-1111", "", ""],
    ]  # fmt: skip


def test_the_command_summary_counts_rejected_and_warned_rows(udn_a, tmp_path):
    path = tmp_path / "telefones.csv"
    path.write_text(PHONES)

    output = run_command(path)

    assert "created 4, updated 0, unchanged 0, rejected 1, imported with warnings 3" in output
    assert (tmp_path / "telefones.csv.problems.csv").read_text(encoding="utf-8-sig").count("\n") == 5


def test_failed_first_import_keeps_its_rejected_rows(udn_a, tmp_path, monkeypatch):
    path = tmp_path / "telefones.csv"
    path.write_text(PHONES)

    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(first_load, "_merge_repeated", broken)
    with pytest.raises(RuntimeError):
        import_as_marketer(udn_a, path, PHONES_MAPPING, INITIAL_LOAD_MIN_ROWS=1)

    with tenant_context(udn_a):
        assert not Affiliate.objects.exists()  # the load is all or nothing...
        job = ImportJob.objects.get()
        problems = {row.row_number: row.imported for row in job.rejected_rows.all()}
    # ...but what it found wrong with the file is kept, with the counters, and the job says why it failed.
    assert job.status == ImportStatus.FAILED and "disk full" in job.error
    assert (job.total_rows, job.rejected, job.warned) == (5, 1, 3)
    assert problems == {2: True, 3: True, 4: True, 6: False}
