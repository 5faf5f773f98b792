"""The import pages: upload → mapping → preview → run → progress → rejected rows."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from crm.models import Affiliate, AuditEntry, ImportJob, ImportStatus, RejectedRow
from crm.tasks.imports import import_run
from crm.tests.helpers import UGLY


def upload(client, name: str, content: bytes):
    return client.post("/imports/upload/", {"file": SimpleUploadedFile(name, content)})


def test_upload_map_preview_run_and_download_the_rejected_rows(
    udn_a, marketer, client_for, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)

    response = upload(client, "base.csv", UGLY.read_bytes())
    assert response.status_code == 302
    with tenant_context(udn_a):
        job = ImportJob.objects.get()
    assert response.url == f"/imports/{job.pk}/mapping/"

    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-header="Celular"' in html and "(11) 98765-4321" in html  # sample values shown

    selections = {
        f"col-{i}": target
        for i, target in enumerate(
            [
                "external_id",
                "name",
                "cpf",
                "phone",
                "email",
                "birth_date",
                "city",
                "state",
                "plan",
                "plan_fee",
                "origin",
                "attr",
            ]
        )
    }
    selections["attr-11"] = "observacao"
    assert client.post(response.url, selections).url == f"/imports/{job.pk}/preview/"

    preview = client.get(f"/imports/{job.pk}/preview/")
    assert preview.status_code == 200
    preview_html = preview.content.decode()
    assert preview_html.count('class="is-rejected"') == 4
    assert preview_html.count('class="is-warned"') == 3  # a bad phone or birth date: imported, with a warning
    assert "seriam rejeitadas e 3 seriam importadas com avisos" in preview_html
    assert 'class="scroll-x"' not in preview_html

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = client.post(f"/imports/{job.pk}/preview/")
    assert started.url == f"/imports/{job.pk}/" and len(callbacks) == 1
    import_run(str(job.pk))  # what the worker runs

    with tenant_context(udn_a):
        job.refresh_from_db()
        assert job.status == ImportStatus.DONE and (job.created, job.rejected, job.warned) == (7, 4, 3)
        assert Affiliate.objects.get(external_id="A001").attributes == {"observacao": "cliente antiga"}
    detail = client.get(f"/imports/{job.pk}/", HTTP_HX_REQUEST="true")
    detail_html = detail.content.decode()
    assert 'data-status="done"' in detail_html
    assert '<span class="stat-value" data-testid="stat-warned">3</span>' in detail_html
    assert detail_html.count('class="is-warned"') == 3 and detail_html.count('class="is-rejected"') == 4
    download = client.get(f"/imports/{job.pk}/rejected.csv")
    assert download["Content-Type"].startswith("text/csv")
    assert download["Content-Disposition"] == 'attachment; filename="base-problemas.csv"'
    content = b"".join(download.streaming_content).decode()
    assert content.count("\n") == 8
    assert content.count(";importada com avisos;") == 3 and content.count(";rejeitada;") == 4


def test_an_unreadable_upload_says_why_and_stores_nothing(udn_a, marketer, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = upload(client_for(udn_a, marketer), "foto.csv", b"\x89PNG\x00\x00binary")

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    with tenant_context(udn_a):
        assert not ImportJob.objects.exists()


def test_analysts_see_imports_but_cannot_start_one(udn_a, analyst, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, analyst)

    page = client.get("/imports/")
    assert page.status_code == 200 and "upload-form" not in page.content.decode()
    assert upload(client, "base.csv", UGLY.read_bytes()).status_code == 403


def test_a_udn_b_member_cannot_reach_udn_a_imports(udn_a, outsider, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    shutil.copy(UGLY, tmp_path / "x.csv")
    assert client_for(udn_a, outsider).get("/imports/").status_code == 403


def test_a_command_line_import_shows_its_file_name_not_the_server_path(
    udn_a, marketer, analyst, client_for, tmp_path
):
    from crm.services.imports import import_job_create

    folder = tmp_path / "pasta-interna-do-servidor"
    folder.mkdir()
    path = folder / "base-junho.csv"
    shutil.copy(UGLY, path)
    with tenant_context(udn_a):
        job = import_job_create(path=path, created_by="terminal", source="cli")

    for person in (marketer, analyst):
        client = client_for(udn_a, person)
        for url in ("/imports/", f"/imports/{job.pk}/"):
            html = client.get(url).content.decode()
            assert "base-junho.csv" in html, url
            assert "pasta-interna-do-servidor" not in html and str(tmp_path) not in html, url


# --- ugly files on the pages, and the downloads ----------------------------------------------------


def _mapping_html(client, job_id) -> str:
    page = client.get(f"/imports/{job_id}/mapping/")
    assert page.status_code == 200
    return page.content.decode()


def _only_job(udn) -> ImportJob:
    with tenant_context(udn):
        return ImportJob.objects.get()


def test_the_mapping_page_of_a_file_with_an_unclosed_quote_shows_the_rows_it_could_read(
    udn_a, marketer, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    assert upload(client, "aspas.csv", b'codigo;nome\n1;Ana\n2;"Bruno\n3;Carla\n').status_code == 302

    html = _mapping_html(client, _only_job(udn_a).pk)

    assert "Ana · &quot;Bruno · Carla" in html


def test_the_mapping_page_says_why_when_the_file_cannot_be_read_any_more(
    udn_a, marketer, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    upload(client, "base.csv", b"codigo;nome\n1;Ana\n")
    job = _only_job(udn_a)
    with tenant_context(udn_a):
        Path(job.file.path).write_bytes(b"")  # emptied on disk after the upload

    page = client.get(f"/imports/{job.pk}/mapping/")

    assert page.status_code == 400
    assert "O arquivo está vazio." in page.content.decode()


def test_a_file_with_too_many_columns_is_refused_at_upload_saying_so(
    udn_a, marketer, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    header = ";".join(f"coluna {i}" for i in range(10_000))

    response = upload(client_for(udn_a, marketer), "largo.csv", f"{header}\n{header}\n".encode())

    assert response.status_code == 400
    assert "O arquivo tem 10.000 colunas; no máximo 400" in response.content.decode()
    with tenant_context(udn_a):
        assert not ImportJob.objects.exists()


def test_a_file_as_wide_as_the_limit_can_be_mapped_with_every_field_sent(
    udn_a, marketer, client_for, settings, tmp_path
):
    from crm.readers import MAX_COLUMNS

    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    header = ";".join(["codigo", "nome", *(f"c{i}" for i in range(MAX_COLUMNS - 2))])
    upload(client, "largo.csv", f"{header}\n1;Ana{';x' * (MAX_COLUMNS - 2)}\n".encode())
    job = _only_job(udn_a)
    selections = {f"col-{i}": "" for i in range(MAX_COLUMNS)} | {"col-0": "external_id", "col-1": "name"}
    selections |= {f"attr-{i}": "" for i in range(MAX_COLUMNS)}  # what a browser without JS sends

    response = client.post(f"/imports/{job.pk}/mapping/", selections)

    assert response.status_code == 302 and response.url == f"/imports/{job.pk}/preview/"


def test_the_attribute_name_shows_only_for_a_custom_attribute_named_after_its_column(
    udn_a, marketer, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    upload(client, "base.csv", b"codigo;nome;Obs do vendedor\n1;Ana;cliente antiga\n")
    job = _only_job(udn_a)

    html = _mapping_html(client, job.pk)

    name_box = re.search(r'<input type="text" name="attr-1"[^>]*>', html).group(0)
    assert 'value="nome"' in name_box and "hidden disabled" in name_box  # not "name", and not shown
    client.post(f"/imports/{job.pk}/mapping/", {"col-0": "external_id", "col-1": "name", "col-2": "attr"})
    chosen = re.search(r'<input type="text" name="attr-2"[^>]*>', _mapping_html(client, job.pk)).group(0)
    assert 'value="Obs do vendedor"' in chosen and "hidden" not in chosen

    preview = client.get(f"/imports/{job.pk}/preview/").content.decode()

    assert "<th>Obs do vendedor</th>" in preview and ">cliente antiga</td>" in preview


def test_the_preview_shows_origin_labels_flags_unknown_origins_and_the_file_text_on_hover(
    udn_a, marketer, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    upload(
        client,
        "origens.csv",
        "codigo;nome;cpf;nascimento;origem\n"
        "P1;ana souza;529.982.247-25;03/04/1980;Loja\n"
        "P2;Bia;390.533.447-05;1985-07-12;indicação\n"
        "P3;Caio;111.444.777-35;01/01/1990;balcão da feira\n"
        "P4;;;;Loja\n".encode(),
    )
    job = _only_job(udn_a)
    client.post(
        f"/imports/{job.pk}/mapping/",
        {"col-0": "external_id", "col-1": "name", "col-2": "cpf", "col-3": "birth_date", "col-4": "origin"},
    )

    html = client.get(f"/imports/{job.pk}/preview/").content.decode()
    cells = dict(re.findall(r'<td class="\w+" data-field="(\w+)">(.*?)</td>', html, flags=re.S)[:5])
    origins = re.findall(r'data-field="origin">(.*?)</td>', html, flags=re.S)

    assert origins[0].strip() == "Loja" and ">store<" not in html and "referral" not in origins[1]
    assert "Indicação" in origins[1]
    assert 'data-testid="origin-unknown"' in origins[2] and "Outro" in origins[2]
    assert "balcão da feira" in origins[2]  # the file's word, on hover
    assert origins[3].strip() == "Loja"  # a rejected row: as it was read
    assert html.count('data-testid="origin-unknown"') == 1
    assert 'title="No arquivo: ana souza"' in cells["name"] and "Ana Souza" in cells["name"]
    assert 'title="No arquivo: 1985-07-12"' in html and "12/07/1985" in html
    assert re.search(r'<td class="short" data-field="birth_date">', html)
    assert "Nas primeiras 4 linhas, 1 seria rejeitada e 0 seriam importadas com avisos." in html


FORMULA_ROWS = (
    "codigo;nome;celular;obs\n"
    ';=HYPERLINK("http://mal.example");+55 11 98765-4321;@SUM(A1)\n'  # no code, no CPF: rejected
    ";;+5511987654321;-1+2\n"
)


def _import_formulas(udn, client, tmp_path) -> ImportJob:
    upload(client, "formulas.csv", FORMULA_ROWS.encode())
    job = _only_job(udn)
    mapping = {"col-0": "external_id", "col-1": "name", "col-2": "phone", "col-3": "attr", "attr-3": "obs"}
    client.post(f"/imports/{job.pk}/mapping/", mapping)
    client.post(f"/imports/{job.pk}/preview/")  # queued (the worker's task is run below)
    import_run(str(job.pk))
    with tenant_context(udn):
        job.refresh_from_db()
    assert job.rejected >= 1, (job.status, job.error, job.total_rows, job.created, job.mapping)
    return job


def test_the_rows_with_problems_download_as_csv_with_no_formula_and_as_xlsx_in_text(
    udn_a, marketer, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    job = _import_formulas(udn_a, client, tmp_path)

    csv_body = b"".join(client.get(f"/imports/{job.pk}/rejected.csv").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(csv_body.lstrip("\ufeff")), delimiter=";"))
    cells = [cell for row in rows[1:] for cell in row[3:]]
    assert '\'=HYPERLINK("http://mal.example")' in cells and "'-1+2" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    download = client.get(f"/imports/{job.pk}/rejected.xlsx")
    assert download["Content-Type"] == XLSX
    assert download["Content-Disposition"] == 'attachment; filename="formulas-problemas.xlsx"'
    sheet = _xlsx_rows(download)
    assert sheet[0][:3] == ["Linha", "Status", "Motivos"]
    values = {cell for row in sheet[1:] for cell in row}
    assert {'=HYPERLINK("http://mal.example")', "+55 11 98765-4321", "@SUM(A1)", "-1+2"} <= values


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_rows(response) -> list[list[str]]:
    """The first sheet's cells; every one must be text (no formula, no number)."""
    import zipfile

    from openpyxl import load_workbook

    content = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml  # no formula anywhere
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    rows = []
    for row in sheet.iter_rows():
        assert all(cell.data_type in ("s", "inlineStr", "n") for cell in row)
        rows.append(["" if cell.value is None else cell.value for cell in row])
    return rows


def test_a_download_named_after_an_upload_with_quotes_and_accents_keeps_a_valid_header(
    udn_a, marketer, client_for, settings, tmp_path
):
    from django.utils.http import content_disposition_header

    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    job = _import_formulas(udn_a, client, tmp_path)
    with tenant_context(udn_a):
        ImportJob.objects.filter(pk=job.pk).update(original_name='base "final"\nsão.csv')

    for extension in ("csv", "xlsx"):
        response = client.get(f"/imports/{job.pk}/rejected.{extension}")

        assert response.status_code == 200
        expected = content_disposition_header(True, f'base "final"\nsão-problemas.{extension}')
        assert response["Content-Disposition"] == expected
        assert "\n" not in expected and expected.startswith("attachment; filename*=utf-8''base%20%22final%22")


def test_the_affiliate_export_downloads_as_xlsx_with_phones_as_written_and_no_formula(
    udn_a, marketer, client_for
):
    from crm.selectors.affiliates import EXPORT_COLUMNS

    with tenant_context(udn_a):
        Affiliate.objects.create(
            external_id="=1+1", name="@Ana", phone="+5511987654321", tags=["-vip"], total_cash_in="1234.50"
        )
    client = client_for(udn_a, marketer)

    csv_body = b"".join(client.get("/affiliates/export.csv").streaming_content).decode()
    response = client.get("/affiliates/export.xlsx")

    assert "'+5511987654321" in csv_body and "'=1+1" in csv_body and "'@Ana" in csv_body
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].startswith('attachment; filename="affiliates-alpha-')
    _header, row = _xlsx_rows(response)
    by_column = dict(zip(EXPORT_COLUMNS, row, strict=True))
    assert by_column["phone"] == "+5511987654321" and by_column["external_id"] == "=1+1"
    assert by_column["name"] == "@Ana" and by_column["tags"] == "-vip"
    assert by_column["total_cash_in"] == 1234.5  # a number


def test_the_problems_table_shows_a_row_as_read_in_the_files_column_order(
    udn_a, marketer, client_for, settings, tmp_path
):
    """The row is stored as jsonb (keys by length, then bytes): the page puts it back in the file's
    column order, empty cells left out."""
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    content = "Observação do atendimento;Nome;Código;UF\ncliente antiga;;A1;SP\n;Ana Souza;A2;RJ\n"
    upload(client, "ordem.csv", content.encode())
    job = _only_job(udn_a)
    mapping = {"col-0": "attr", "attr-0": "obs", "col-1": "name", "col-2": "external_id", "col-3": "state"}
    client.post(f"/imports/{job.pk}/mapping/", mapping)
    client.post(f"/imports/{job.pk}/preview/")
    import_run(str(job.pk))
    with tenant_context(udn_a):
        job.refresh_from_db()
        assert job.rejected == 1
        stored = list(job.rejected_rows.get().data)
    assert stored != job.headers  # what jsonb gives back is not the file's order

    html = client.get(f"/imports/{job.pk}/").content.decode()
    cell = re.search(r'data-testid="row-as-read">(.*?)</td>', html, flags=re.S).group(1)
    assert cell == "Observação do atendimento: cliente antiga · Código: A1 · UF: SP"


def test_an_abandoned_upload_is_a_draft_to_continue_or_discard(
    udn_a, marketer, analyst, client_for, settings, tmp_path, django_capture_on_commit_callbacks
):
    """Uploaded and never started: 'Rascunho' with 'continuar' (to the mapping, or to the preview
    once mapped) and 'Descartar', which deletes the job, its file and leaves an audit entry."""
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    upload(client, "rascunho.csv", "Código;Nome\nA1;Ana\n".encode())
    job = _only_job(udn_a)
    stored = Path(job.file.path)
    assert stored.exists()

    def draft_cell() -> str:
        html = client.get("/imports/").content.decode()
        return re.search(r'data-testid="import-draft">(.*?)</td>', html, flags=re.S).group(1)

    cell = draft_cell()
    assert "Rascunho" in cell and "Enviada" not in cell
    assert f'href="/imports/{job.pk}/mapping/" data-testid="import-continue">continuar</a>' in cell
    assert "Descartar" in cell
    client.post(f"/imports/{job.pk}/mapping/", {"col-0": "external_id", "col-1": "name"})
    assert f'href="/imports/{job.pk}/preview/" data-testid="import-continue">continuar</a>' in draft_cell()
    analyst_view = client_for(udn_a, analyst).get("/imports/").content.decode()
    assert "Rascunho" in analyst_view and "import-discard" not in analyst_view
    assert client_for(udn_a, analyst).post(f"/imports/{job.pk}/discard/").status_code == 403

    with tenant_context(udn_a):
        RejectedRow.objects.create(job=job, row_number=2, reasons=["x"], data={"Nome": "Ana"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/imports/{job.pk}/discard/", follow=True)
    assert "Rascunho “rascunho.csv” descartado." in response.content.decode()
    with tenant_context(udn_a):
        assert not ImportJob.objects.exists() and not RejectedRow.objects.exists()
        entry = AuditEntry.objects.get(action="import.discarded")
    assert entry.target_id == str(job.pk) and entry.changes["file"] == "rascunho.csv"
    assert entry.actor_label == marketer.email
    assert not stored.exists()
    audit = client.get("/audit/").content.decode()
    assert "Importação: rascunho descartado" in audit


def test_only_a_job_never_queued_can_be_discarded(udn_a, marketer, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    job = _import_formulas(udn_a, client, tmp_path)  # run to the end

    html = client.get("/imports/").content.decode()
    assert "import-draft" not in html and "Rascunho" not in html
    response = client.post(f"/imports/{job.pk}/discard/", follow=True)
    assert "Só uma importação que nunca foi iniciada pode ser descartada." in response.content.decode()
    with tenant_context(udn_a):
        assert ImportJob.objects.filter(pk=job.pk).exists()
        assert not AuditEntry.objects.filter(action="import.discarded").exists()
    assert Path(job.file.path).exists()
