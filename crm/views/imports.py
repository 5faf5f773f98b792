"""Import pages: upload → column mapping → preview → run with live progress → rejected rows."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.access import import_job_get
from crm.importing import ATTRIBUTE_PREFIX
from crm.models import ImportJob, ImportStatus
from crm.readers import ImportFileError, source_batches, source_open
from crm.selectors.imports import (
    FIELD_LABELS,
    import_job_cancellable,
    import_job_list,
    import_job_live,
    import_preview,
    rejected_rows_csv,
    rejected_rows_first,
    rejected_rows_table,
)
from crm.services.imports import (
    RETRYABLE,
    import_job_cancel,
    import_job_create,
    import_job_discard,
    import_job_path,
    import_job_retry,
    import_mapping_save,
    import_queue,
)
from crm.spreadsheets import attachment_disposition, xlsx_response
from crm.views._methods import post_or_redirect
from tenants.access import udn_write_required

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a 1M-row CSV is ~150 MB
SAMPLE_VALUES = 3
REJECTED_SHOWN = 100  # rows with problems on the import's page; the downloads have them all


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File (CSV or XLSX)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(_("The file is larger than 512 MB; split it or use the import command."))
        return upload


def import_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(import_job_list(), 25).get_page(request.GET.get("page"))
    return render(request, "crm/imports/list.html", {"page": page, "form": UploadForm()})


@post_or_redirect("import-list")
@udn_write_required
def import_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = import_job_create(upload=form.cleaned_data["file"], created_by=request.user.get_username())
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("import-mapping", pk=job.pk)
    page = Paginator(import_job_list(), 25).get_page(1)
    return render(request, "crm/imports/list.html", {"page": page, "form": form}, status=400)


def _samples(job: ImportJob) -> dict[str, list[str]]:
    """A few values of each column; ImportFileError when the file cannot be read."""
    source = source_open(import_job_path(job=job))
    try:
        batch = next(source_batches(source, batch_rows=50), None)
    finally:
        source.close()
    if batch is None:
        return {h: [] for h in job.headers}
    return {
        h: [v for v in batch[h].to_list() if v][:SAMPLE_VALUES] for h in job.headers if h in batch.columns
    }


def import_mapping(request: HttpRequest, pk: str) -> HttpResponse:
    job = import_job_get(user=request.user, pk=pk, write=True)
    errors: list[str] = []
    mapping = job.mapping
    if request.method == "POST":
        mapping = {}
        for index, header in enumerate(job.headers):
            target = request.POST.get(f"col-{index}", "")
            if target == "attr":
                target = ATTRIBUTE_PREFIX + (request.POST.get(f"attr-{index}", "").strip() or header)
            mapping[header] = target
        try:
            import_mapping_save(job=job, mapping=mapping)
        except ValidationError as exc:
            errors = exc.messages
        else:
            return redirect("import-preview", pk=job.pk)
    try:
        samples = _samples(job)
    except ImportFileError as exc:
        samples = {}
        errors = [*errors, str(exc)]
    columns = []
    for index, header in enumerate(job.headers):
        target = mapping.get(header, "")
        custom = target.startswith(ATTRIBUTE_PREFIX)
        columns.append(
            {
                "index": index,
                "header": header,
                "samples": samples.get(header, []),
                "target": "attr" if custom else target,
                # A custom attribute is named after its column unless named otherwise.
                "attribute": target.removeprefix(ATTRIBUTE_PREFIX) if custom else header,
            }
        )
    context = {"job": job, "columns": columns, "fields": FIELD_LABELS.items(), "errors": errors}
    return render(request, "crm/imports/mapping.html", context, status=400 if errors else 200)


def import_preview_page(request: HttpRequest, pk: str) -> HttpResponse:
    job = import_job_get(user=request.user, pk=pk, write=True)
    if request.method == "POST":
        import_queue(job=job)
        messages.success(request, _("Import started. You can leave this page; it keeps running."))
        return redirect("import-detail", pk=job.pk)
    preview = import_preview(job=job, path=import_job_path(job=job))
    # Custom attributes ("attr:<name>") are headed by their name.
    labels = [
        (field, FIELD_LABELS.get(field) or field.removeprefix(ATTRIBUTE_PREFIX)) for field in preview.fields
    ]
    return render(request, "crm/imports/preview.html", {"job": job, "preview": preview, "labels": labels})


def import_detail(request: HttpRequest, pk: str) -> HttpResponse:
    job = import_job_live(job=import_job_get(user=request.user, pk=pk))
    rejected = rejected_rows_first(job=job, limit=REJECTED_SHOWN)
    template = "crm/imports/_progress.html" if request.htmx else "crm/imports/detail.html"  # type: ignore[attr-defined]
    context = {
        "job": job,
        "rejected": rejected,
        "running": job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
        "retryable": job.status in RETRYABLE,
        "cancellable": import_job_cancellable(job=job),
    }
    return render(request, template, context)


@require_POST
def import_cancel(request: HttpRequest, pk: str) -> HttpResponse:
    job = import_job_get(user=request.user, pk=pk, write=True)
    if not import_job_cancellable(job=job):
        if job.status == ImportStatus.RUNNING:
            messages.warning(
                request, _("Too late to cancel: the import is already writing to the base and ends shortly.")
            )
        return redirect("import-detail", pk=job.pk)
    job = import_job_cancel(job=job)
    if job.status == ImportStatus.CANCELLED:
        messages.success(request, _("Import cancelled."))
    elif job.status == ImportStatus.RUNNING:
        messages.info(request, _("Cancelling: the import stops after the batch it is reading."))
    return redirect("import-detail", pk=job.pk)


@require_POST
def import_retry(request: HttpRequest, pk: str) -> HttpResponse:
    job = import_job_get(user=request.user, pk=pk, write=True)
    if job.status in RETRYABLE:
        import_job_retry(job=job)
        messages.success(request, _("Import queued again."))
    return redirect("import-detail", pk=job.pk)


@require_POST
def import_discard(request: HttpRequest, pk: str) -> HttpResponse:
    """Delete a draft (uploaded, never started): it leaves the history, its file the disk."""
    job = import_job_get(user=request.user, pk=pk, write=True)
    try:
        import_job_discard(job=job)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, _("Draft “%(file)s” discarded.") % {"file": job.display_name})
    return redirect("import-list")


def _rejected_stem(job: ImportJob) -> str:
    return (job.original_name.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "importacao") + "-problemas"


def import_rejected_csv(request: HttpRequest, pk: str) -> StreamingHttpResponse:
    job = import_job_get(user=request.user, pk=pk)
    response = StreamingHttpResponse(rejected_rows_csv(job=job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment_disposition(f"{_rejected_stem(job)}.csv")
    return response


def import_rejected_xlsx(request: HttpRequest, pk: str) -> FileResponse:
    """The rows with problems as XLSX: every cell text, so none runs as a formula and a phone shows
    as +5511..., not as the CSV's '+5511..."""
    job = import_job_get(user=request.user, pk=pk)
    stem = _rejected_stem(job)
    return xlsx_response(rows=rejected_rows_table(job=job), filename=f"{stem}.xlsx", title=_("Problems"))
