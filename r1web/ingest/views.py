"""The tokens page, the rollout import form, and the ingestion API's endpoints."""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from r1domain.errors import NotFound
from r1web.accounts.access import role_required
from r1web.accounts.roles import OPERATOR
from r1web.datasets.uploads import LimitedUploadHandler
from r1web.htmx import render_partial, stop_polling_when, wants_partial
from r1web.ingest import schema, selectors
from r1web.ingest.api import api_view
from r1web.ingest.forms import RolloutImportForm, TokenForm
from r1web.ingest.imports import SOURCES, rollout_import_queue, runs_as_task
from r1web.ingest.logfiles import LogFileError, detect_format, read_rollouts
from r1web.ingest.models import ExternalRun, RolloutImport
from r1web.ingest.services import (
    IngestError,
    external_records_store,
    external_run_finish,
    external_run_open,
    rollouts_import,
    token_create,
    token_revoke,
)

# --- pages -------------------------------------------------------------------------


@require_GET
def token_list(request: HttpRequest) -> HttpResponse:
    """Your tokens (operators also get the form to make one)."""
    return _tokens_page(request, TokenForm())


@require_POST
@role_required(OPERATOR)
def token_new(request: HttpRequest) -> HttpResponse:
    """Make a token and show it on this response only."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form, status=400)
    _, secret = token_create(
        user=request.user, name=form.cleaned_data["name"], acting_user=request.user
    )
    response = _tokens_page(request, TokenForm(), secret=secret)
    response["Cache-Control"] = "no-store"  # the secret must not outlive this page
    return response


def _tokens_page(request, form, *, secret: str | None = None, status: int = 200):
    context = {
        "form": form,
        "tokens": selectors.tokens_of(request.user),
        "secret": secret,
        "api_url": request.build_absolute_uri("/"),
    }
    return render(request, "ingest/tokens.html", context, status=status)


@require_POST
@role_required(OPERATOR)
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = selectors.get_token_for_user(request, pk)
    try:
        token_revoke(token=token, acting_user=request.user)
    except IngestError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Revoked {token}: it can no longer write.")
    return redirect("ingest:tokens")


@csrf_exempt  # checked in _import, once the upload handler is in place (Django's recipe)
@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)
def rollout_import(request: HttpRequest) -> HttpResponse:
    handler = LimitedUploadHandler(request, max_bytes=RolloutImportForm.limit())
    request.upload_handlers = [handler]
    return _import(request, handler)


@csrf_protect
def _import(request: HttpRequest, handler: LimitedUploadHandler) -> HttpResponse:
    data, files = (request.POST, request.FILES) if request.method == "POST" else (None, None)
    form = RolloutImportForm(data, files, too_large=handler.too_large)
    if request.method == "POST" and form.is_valid():
        try:
            return _import_logs(request, form.cleaned_data)
        except (LogFileError, IngestError) as exc:
            form.add_error("files", str(exc))
    status = 413 if handler.too_large else 400 if form.errors else 200
    return render(request, "ingest/import.html", {"form": form}, status=status)


def _import_logs(request: HttpRequest, values: dict) -> HttpResponse:
    """Small logs are imported now; large ones by a worker, behind a progress page. The
    uploads are removed when the request ends, unless a job took them."""
    logs = [(upload.name, Path(upload.temporary_file_path())) for upload in values["files"]]
    fmt = detect_format(logs) if values["format"] == "auto" else values["format"]
    fields = {"name": values["name"], "completion_format": values["completion_format"]}
    if runs_as_task(logs, fmt):
        job = rollout_import_queue(
            uploads=values["files"], fmt=fmt, num_generations=values["num_generations"],
            created_by=request.user, **fields,
        )
        return redirect(job)
    external = rollouts_import(
        user=request.user, source=SOURCES[fmt],
        samples=read_rollouts(logs, fmt, values["num_generations"]), **fields,
    )
    messages.success(request, f"Imported {external.run.samples.count()} completions.")
    return redirect(external.run)


@require_GET
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """A worker's import: progress while it runs (htmx polls the fragment), then the run
    it made or why it failed."""
    job = get_object_or_404(RolloutImport.objects.select_related("external__run"), pk=pk)
    response = render_partial(request, "ingest/import_job.html", "import-progress", {"job": job})
    return stop_polling_when(wants_partial(request) and job.is_finished(), response)


# --- the API -----------------------------------------------------------------------


@api_view(OPERATOR)
def api_run_open(request: HttpRequest, body: dict) -> JsonResponse:
    """Open (or find again) the external run with the body's ``key``."""
    external, created = external_run_open(
        user=request.api_token.user, spec=schema.run_open(body), token=request.api_token
    )
    run = external.run
    return JsonResponse(
        {
            "run": run.pk,
            "key": external.key,
            "url": request.build_absolute_uri(run.get_absolute_url()),
        },
        status=201 if created else 200,
    )


@api_view(OPERATOR)
def api_records(request: HttpRequest, key: str, body: dict) -> JsonResponse:
    """Samples, metric points and progress for a run opened by this token's user."""
    external = _own_run(request, key)
    records = schema.records(body)
    return JsonResponse(external_records_store(external=external, records=records))


@api_view(OPERATOR)
def api_run_finish(request: HttpRequest, key: str, body: dict) -> JsonResponse:
    external = _own_run(request, key)
    finish = schema.finish(body)
    return JsonResponse({"status": external_run_finish(external=external, finish=finish)})


def _own_run(request: HttpRequest, key: str) -> ExternalRun:
    key = schema.run_key(key)
    external = selectors.external_run_of(request.api_token.user, key)
    if external is None:
        raise NotFound(f"no run with key {key!r} was opened by this token's user", field="key")
    return external
