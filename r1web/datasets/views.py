"""Dataset pages: list, versions with diffs and lineage, examples, upload and download."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from r1domain.errors import R1WebError
from r1web.accounts.access import role_required
from r1web.accounts.roles import CURATOR, OPERATOR, VIEWER
from r1web.datasets import selectors
from r1web.datasets.exports import dataset_export_queue, export_file, needs_worker
from r1web.datasets.forms import ColdStartSFTForm, DiffForm, UploadForm
from r1web.datasets.imports import dataset_import_queue, runs_as_task
from r1web.datasets.models import Dataset, DatasetExport, DatasetImport, Example
from r1web.datasets.services import DatasetError, dataset_import_file
from r1web.datasets.uploads import LimitedUploadHandler
from r1web.htmx import render_partial, stop_polling_when, wants_partial

EXAMPLES_PER_PAGE = 50
DOWNLOADS = {
    "jsonl": "application/jsonl",
    "parquet": "application/vnd.apache.parquet",
    "hf": "application/zip",
}


@require_GET
def dataset_list(request: HttpRequest) -> HttpResponse:
    context = {"datasets": selectors.datasets_with_counts(), "upload_form": UploadForm()}
    return render(request, "datasets/list.html", context)


@require_GET
def dataset_detail(request: HttpRequest, name: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, name=name)
    versions = list(selectors.dataset_versions(dataset))
    context = {
        "dataset": dataset,
        "versions": versions,
        "queue_size": dataset.curation_items.count(),
        "lineages": [(None, selectors.lineage_for_version(versions[0]))] if versions else [],
    }
    return render(request, "datasets/detail.html", context)


@require_GET
def version_diff_view(request: HttpRequest, name: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, name=name)
    form = DiffForm(request.GET)
    if not form.is_valid():
        return redirect(dataset)
    old = selectors.version_get(name, form.cleaned_data["old"])
    new = selectors.version_get(name, form.cleaned_data["new"])
    context = {"dataset": dataset, "diff": selectors.version_diff(old, new)}
    return render(request, "datasets/diff.html", context)


@require_GET
def version_detail(request: HttpRequest, name: str, number: int) -> HttpResponse:
    version = selectors.version_get(name, number)
    split = request.GET.get("split", "")
    if len(split) > 20 or "\x00" in split:  # no stored split looks like this
        raise Http404("no such split")
    page = Paginator(selectors.version_examples(version, split), EXAMPLES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "version": version,
        "dataset": version.dataset,
        "page": page,
        "split": split,
        "sft_form": ColdStartSFTForm(),
        "formats": DOWNLOADS,
        "export_job": needs_worker(version),
    }
    if not wants_partial(request):
        context["lineages"] = [(None, selectors.lineage_for_version(version))]
    return render_partial(request, "datasets/version.html", "examples", context)


@require_GET
def example_detail(request: HttpRequest, pk: int) -> HttpResponse:
    example = get_object_or_404(Example.objects.select_related("version__dataset"), pk=pk)
    return render(
        request, "datasets/example.html", {"example": example, "version": example.version}
    )


@csrf_exempt  # checked in _upload, once the upload handler is in place (Django's recipe)
@require_http_methods(["GET", "POST"])
@role_required(CURATOR)
def dataset_upload(request: HttpRequest) -> HttpResponse:
    # Before anything reads the body: the file streams to VAR_DIR/uploads and stops at
    # the size limit, so an over-size file is never stored and the page can say why.
    handler = LimitedUploadHandler(request, max_bytes=settings.R1WEB_UPLOAD_MAX_BYTES)
    request.upload_handlers = [handler]
    return _upload(request, handler)


@csrf_protect
def _upload(request: HttpRequest, handler: LimitedUploadHandler) -> HttpResponse:
    data, files = (request.POST, request.FILES) if request.method == "POST" else (None, None)
    form = UploadForm(data, files, too_large=handler.too_large)
    if request.method == "POST" and form.is_valid():
        try:
            return _import_upload(request, form.cleaned_data)
        except DatasetError as exc:
            form.add_error("file", str(exc))
    status = 413 if handler.too_large else 400 if form.errors else 200
    return render(request, "datasets/upload.html", {"form": form}, status=status)


def _import_upload(request: HttpRequest, data: dict) -> HttpResponse:
    """A small file is imported now; a large one by a worker, behind a progress page.
    The upload is removed when the request ends, unless a job took it."""
    upload = data["file"]
    fields = {"name": data["name"], "fmt": data["format"], "split": data["split"]}
    path = Path(upload.temporary_file_path())
    if runs_as_task(path, fmt=data["format"], file_name=upload.name):
        job = dataset_import_queue(upload=upload, created_by=request.user, **fields)
        return redirect(job)
    version = dataset_import_file(
        path=path, file_name=upload.name, created_by=request.user, **fields
    )
    messages.success(request, f"imported {version.num_examples} examples as {version}")
    return redirect(version)


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A worker's import: progress while it runs (htmx polls the fragment), then the
    version it made or why it failed."""
    job = get_object_or_404(DatasetImport.objects.select_related("version__dataset"), pk=pk)
    response = render_partial(request, "datasets/import.html", "import-progress", {"job": job})
    return stop_polling_when(wants_partial(request) and job.is_finished(), response)


@require_GET
def version_download(request: HttpRequest, name: str, number: int, fmt: str) -> FileResponse:
    """Written within the request: the version page offers this for small versions and
    an export job (``export_create``) for large ones."""
    if fmt not in DOWNLOADS:
        raise Http404(f"no download format {fmt!r}")
    version = selectors.version_get(name, number)
    tmp = Path(tempfile.mkdtemp(prefix="r1web-export-"))
    target = export_file(version, fmt, tmp)
    filename = f"{name}-v{number}.{'zip' if fmt == 'hf' else fmt}"
    # The file is unlinked once opened; the open handle keeps it readable until sent.
    handle = target.open("rb")
    shutil.rmtree(tmp, ignore_errors=True)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=DOWNLOADS[fmt])


@require_POST
@role_required(VIEWER)  # a job row, but no change to data: whoever may read may download
def export_create(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """A large version's file, written by a worker behind a progress page."""
    version = selectors.version_get(name, number)
    fmt = request.POST.get("format", "")
    if fmt not in DOWNLOADS:
        messages.error(request, f"no download format {fmt[:20]!r}")
        return redirect(version)
    return redirect(dataset_export_queue(version=version, fmt=fmt, created_by=request.user))


@require_GET
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An export's progress while a worker writes it (htmx polls), then its download."""
    job = get_object_or_404(DatasetExport.objects.select_related("version__dataset"), pk=pk)
    response = render_partial(request, "datasets/export.html", "export-progress", {"job": job})
    return stop_polling_when(wants_partial(request) and job.is_finished(), response)


@require_GET
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(DatasetExport.objects.select_related("version__dataset"), pk=pk)
    if job.status != DatasetExport.Status.SUCCEEDED or not job.path or not Path(job.path).is_file():
        raise Http404("this export is not ready, or its file has expired")
    return FileResponse(Path(job.path).open("rb"), as_attachment=True,
                        filename=job.download_name(), content_type=DOWNLOADS[job.fmt])


@require_POST
@role_required(OPERATOR)
def version_sft(request: HttpRequest, name: str, number: int) -> HttpResponse:
    from r1web.runs.recipes import launch

    version = selectors.version_get(name, number)
    form = ColdStartSFTForm(request.POST)
    if form.is_valid():
        try:
            run = launch("cold-start-sft", _sft_values(version, form.cleaned_data),
                         user=request.user)
        except R1WebError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"started {run.name}")
            return redirect(run)
    context = {
        "version": version,
        "dataset": version.dataset,
        "sft_form": form,
        "formats": DOWNLOADS,
        "export_job": needs_worker(version),
        "page": Paginator(selectors.version_examples(version), EXAMPLES_PER_PAGE).get_page(1),
        "lineages": [(None, selectors.lineage_for_version(version))],
    }
    return render(request, "datasets/version.html", context, status=400)


def _sft_values(version, data: dict) -> dict:
    """The SFT form's fields as the cold-start-sft recipe's values."""
    return {
        "model": str(data["model"].pk) if data["model"] else "",
        "dataset": f"{version.dataset.name}@{version.number}",
        "max_steps": data["max_steps"],
        "sft_config": {**data["trl_config"], "learning_rate": data["learning_rate"]},
        "name": data["name"],
    }
