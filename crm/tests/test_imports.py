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
from django_tenants.utils import tenant_context

from crm.models import Affiliate, AffiliateChange, ColumnMapping, ImportJob, ImportStatus
from crm.readers import ImportFileError
from crm.selectors.imports import import_mapping_suggest, rejected_rows_csv
from crm.services.imports import affiliates_import, import_job_create, import_mapping_save

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

    assert "created 4, updated 0, unchanged 0, rejected 7 (rows repeated in the file: 1)" in output
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
        job = ImportJob.objects.get()
        assert job.status == ImportStatus.DONE
        rejected = {row.row_number: row for row in job.rejected_rows.all()}
    assert sorted(rejected) == [4, 5, 8, 9, 11, 12, 13]
    assert len(rejected[4].reasons) == 3  # CPF, e-mail and birth date, all at once
    assert rejected[4].data["Nome completo"] == "Ana Paula Ribeiro"  # the row as read, accents intact
    assert rejected[9].data["+"]  # the value beyond the header is kept too
    report = ugly_file.with_name("base_udn.csv.rejected.csv")
    assert report.exists()
    lines = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert lines[0][2:] == [h for h in UGLY.read_bytes().decode("cp1252").splitlines()[0].split(";")]
    assert [line[0] for line in lines[1:]] == ["4", "5", "8", "9", "11", "12", "13"]


def test_importing_the_same_file_again_changes_nothing(udn_a, ugly_file):
    run_command(ugly_file)
    output = run_command(ugly_file)

    assert "created 0, updated 0, unchanged 4, rejected 7" in output
    with tenant_context(udn_a):
        assert Affiliate.objects.count() == 4


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


def test_rows_are_read_in_batches_and_progress_is_reported(udn_a, tmp_path, monkeypatch):
    import crm.readers

    monkeypatch.setattr(crm.readers, "BATCH_ROWS", 3)
    lines = ["codigo;nome"] + [f"{i};Pessoa {i}" for i in range(10)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    seen: list[int] = []
    with tenant_context(udn_a):
        job = import_job_create(path=path)
        assert job.expected_rows == 10
        import_mapping_save(job=job, mapping={"codigo": "external_id", "nome": "name"})
        job = affiliates_import(job=job, on_progress=lambda j: seen.append(j.total_rows))
    monkeypatch.undo()
    assert job.created == 10
    assert seen == [3, 6, 9, 10]


def test_rejected_rows_download_keeps_the_original_columns(udn_a, ugly_file):
    run_command(ugly_file)
    with tenant_context(udn_a):
        job = ImportJob.objects.get()
        content = "".join(rejected_rows_csv(job=job))
    assert content.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 1 + 7
    by_row = {r[0]: r for r in rows[1:]}
    assert by_row["11"][3] == "Sem Código"


def test_an_unreadable_upload_never_creates_a_job(udn_a, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with tenant_context(udn_a):
        with pytest.raises(ImportFileError):
            import_job_create(path=path)
        assert not ImportJob.objects.exists()
