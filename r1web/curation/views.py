"""The curation queue: one candidate at a time, edited and decided by the curator holding it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from r1web.accounts.roles import CURATOR, OPERATOR, has_role
from r1web.curation import selectors, services
from r1web.curation.forms import EditForm, GenerateForm, PromoteForm, RejectForm
from r1web.curation.models import CurationItem
from r1web.datasets.models import Dataset
from r1web.traces.models import Sample

MAX_PROMOTE = 5000  # one click must not queue a whole run's millions of samples


def _require(request: HttpRequest, role: str) -> None:
    if not has_role(request.user, role):
        raise PermissionDenied(f"this needs the {role} role")


def queue_index(request: HttpRequest) -> HttpResponse:
    context = {"queues": selectors.queues(), "generate_form": GenerateForm()}
    return render(request, "curation/index.html", context)


@require_POST
def promote(request: HttpRequest) -> HttpResponse:
    _require(request, CURATOR)
    form = PromoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("__all__", ["bad promotion request"])))
        return redirect("traces:list")
    data = form.cleaned_data
    samples = _promoted_samples(data)
    if samples.count() > MAX_PROMOTE:
        messages.error(
            request, f"that filter matches more than {MAX_PROMOTE} samples; narrow it first"
        )
        return redirect(reverse("traces:list") + "?" + data["filter_query"])
    dataset = services.curation_dataset_get_or_create(name=data["dataset"], user=request.user)
    added = services.candidates_promote(samples=samples, dataset=dataset, user=request.user)
    messages.success(request, f"queued {added} new candidate(s) for {dataset.name}")
    return redirect("curation:queue", dataset.name)


def _promoted_samples(data: dict):
    if data.get("sample"):
        return Sample.objects.filter(pk=data["sample"])
    from r1web.traces.selectors import filter_samples

    return filter_samples(QueryDict(data["filter_query"]))


def queue(request: HttpRequest, name: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, name=name)
    item = services.held_item(dataset=dataset, user=request.user)
    return _render_queue(request, dataset, item)


def _render_queue(
    request, dataset, item, *, edit_form=None, reject_form=None, status=200
) -> HttpResponse:
    context = {
        "dataset": dataset,
        "item": item,
        "progress": selectors.queue_progress(dataset),
        "edit_form": edit_form
        or EditForm(
            initial={"reasoning": item.reasoning, "summary": item.summary} if item else None
        ),
        "reject_form": reject_form or RejectForm(),
        "recent": selectors.recent_decisions(dataset, limit=10),
    }
    template = "curation/queue.html" + ("#queue-item" if request.htmx else "")
    return render(request, template, context, status=status)


@require_POST
def queue_next(request: HttpRequest, name: str) -> HttpResponse:
    _require(request, CURATOR)
    dataset = get_object_or_404(Dataset, name=name)
    if services.curation_claim_next(dataset=dataset, user=request.user) is None:
        messages.info(request, "nothing left to curate in this queue")
    return _after_post(request, dataset)


def _after_post(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    if request.htmx:
        return _render_queue(
            request, dataset, services.held_item(dataset=dataset, user=request.user)
        )
    return redirect("curation:queue", dataset.name)


def _held(request: HttpRequest, pk: int) -> CurationItem:
    _require(request, CURATOR)
    return get_object_or_404(CurationItem.objects.select_related("dataset"), pk=pk)


@require_POST
def item_save(request: HttpRequest, pk: int) -> HttpResponse:
    item = _held(request, pk)
    form = EditForm(request.POST)
    form.is_valid()
    try:
        services.curation_save(item=item, user=request.user, **form.cleaned_data)
    except services.CurationError as exc:
        return _refused(request, item, exc, edit_form=form)
    messages.success(request, f"saved candidate {item.pk}")
    return _after_post(request, item.dataset)


@require_POST
def item_accept(request: HttpRequest, pk: int) -> HttpResponse:
    item = _held(request, pk)
    form = EditForm(request.POST)
    form.is_valid()
    try:
        services.curation_accept(item=item, user=request.user, **form.cleaned_data)
    except services.CurationError as exc:
        return _refused(request, item, exc, edit_form=form)
    services.curation_claim_next(dataset=item.dataset, user=request.user)
    return _after_post(request, item.dataset)


@require_POST
def item_reject(request: HttpRequest, pk: int) -> HttpResponse:
    item = _held(request, pk)
    form = RejectForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.curation_reject(item=item, user=request.user, reason=reason)
    except services.CurationError as exc:
        return _refused(request, item, exc, reject_form=form)
    services.curation_claim_next(dataset=item.dataset, user=request.user)
    return _after_post(request, item.dataset)


@require_POST
def item_release(request: HttpRequest, pk: int) -> HttpResponse:
    item = _held(request, pk)
    services.curation_release(item=item, user=request.user)
    return redirect("curation:queue", item.dataset.name)


def _refused(request, item: CurationItem, exc: Exception, **forms) -> HttpResponse:
    messages.error(request, str(exc))
    held = services.held_item(dataset=item.dataset, user=request.user)
    if held is not None and held.pk != item.pk:
        forms = {}  # the posted text belongs to another item; show the held one as stored
    return _render_queue(request, item.dataset, held, status=409, **forms)


def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(CurationItem, pk=pk)
    return render(request, "curation/item.html", {"item": selectors.item_with_history(item.pk)})


@require_POST
def freeze(request: HttpRequest, name: str) -> HttpResponse:
    _require(request, CURATOR)
    dataset = get_object_or_404(Dataset, name=name)
    try:
        version = services.curation_freeze(dataset=dataset, user=request.user)
    except services.CurationError as exc:
        messages.error(request, str(exc))
        return redirect("curation:queue", dataset.name)
    messages.success(request, f"froze {version.num_examples} accepted examples as {version}")
    return redirect(version)


@require_POST
def generate(request: HttpRequest) -> HttpResponse:
    _require(request, OPERATOR)
    from r1web.runs.recipes.generate import candidate_generation_create
    from r1web.runs.services import RunError
    from workers.domain.base import ConfigError

    form = GenerateForm(request.POST)
    if form.is_valid():
        try:
            run = candidate_generation_create(**form.cleaned_data, user=request.user)
        except (RunError, ConfigError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"started {run.name}")
            return redirect(run)
    context = {"queues": selectors.queues(), "generate_form": form}
    return render(request, "curation/index.html", context, status=400)
