"""The import pages: upload → mapping → preview → run → progress → rejected rows."""

from __future__ import annotations

import shutil

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from crm.models import Affiliate, ImportJob, ImportStatus
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
    assert "seriam rejeitadas e 3 importadas com avisos" in preview_html
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
