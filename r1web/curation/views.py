"""The curation queue: one candidate at a time, edited and decided by the curator holding it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from r1domain.errors import R1WebError
from r1web.accounts.access import role_required
from r1web.accounts.roles import CURATOR, OPERATOR
from r1web.curation import selectors, services
from r1web.curation.forms import EditForm, GenerateForm, PromoteForm, RejectForm
from r1web.curation.models import CurationItem
from r1web.datasets.models import Dataset
from r1web.htmx import render_partial, wants_partial
from r1web.traces.forms import cleaned, describe
from r1web.traces.models import Sample
from r1web.traces.selectors import filter_samples

MAX_PROMOTE = 5000  # one click must not queue a whole run's millions of samples


@require_GET
def queue_index(request: HttpRequest) -> HttpResponse:
    context = {"queues": selectors.queues(), "generate_form": GenerateForm()}
    return render(request, "curation/index.html", context)


@require_GET
@role_required(CURATOR)
def promote_confirm(request: HttpRequest) -> HttpResponse:
    """How many samples a filter would promote, and where to: nothing is written yet."""
    form = PromoteForm({"filter_query": request.GET.urlencode()})
    context = {
        "targets": selectors.promotion_targets(), "limit": MAX_PROMOTE, "error": "",
        "in_panel": wants_partial(request),
    }
    if not form.is_valid():
        context["error"] = _errors_text(form)
    else:
        matching = selectors.promotable(form.cleaned_data["filter"], limit=MAX_PROMOTE + 1)
        context.update(
            matching=matching,
            filter_query=form.cleaned_data["filter"].urlencode(),
            described=describe(cleaned(form.cleaned_data["filter"])),
        )
    return render_partial(request, "curation/promote.html", "confirm", context)


@require_POST
@role_required(CURATOR)
def promote(request: HttpRequest) -> HttpResponse:
    form = PromoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors_text(form))
        return redirect("traces:list")
    data = form.cleaned_data
    samples = _promoted_samples(data)
    wanted = samples.order_by()[: MAX_PROMOTE + 1].count()  # never counts millions
    if wanted > MAX_PROMOTE:
        messages.error(
            request, f"that filter matches more than {MAX_PROMOTE} samples; narrow it first"
        )
        # Re-encoded: the posted text itself must never reach a Location header.
        return redirect(reverse("traces:list") + "?" + data["filter"].urlencode())
    dataset = services.curation_dataset_get_or_create(name=data["dataset"], user=request.user)
    added = services.candidates_promote(samples=samples, dataset=dataset, user=request.user)
    already = f" ({wanted - added} were already queued)" if wanted > added else ""
    messages.success(request, f"queued {added} new candidate(s) for {dataset.name}{already}")
    return redirect("curation:queue", dataset.name)


def _errors_text(form) -> str:
    return " ".join(
        error if name == "__all__" else f"{name}: {error}"
        for name, errors in form.errors.items() for error in errors
    )


def _promoted_samples(data: dict):
    if data.get("sample"):
        return Sample.objects.filter(pk=data["sample"])
    samples = filter_samples(data["filter"])
    return samples.filter(pk__lte=data["upto"]) if data.get("upto") else samples


@require_GET
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
    return render_partial(request, "curation/queue.html", "queue-item", context, status=status)


@require_POST
@role_required(CURATOR)
def queue_next(request: HttpRequest, name: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, name=name)
    if services.curation_claim_next(dataset=dataset, user=request.user) is None:
        messages.info(request, "nothing left to curate in this queue")
    return _after_post(request, dataset)


def _after_post(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    if wants_partial(request):
        return _render_queue(
            request, dataset, services.held_item(dataset=dataset, user=request.user)
        )
    return redirect("curation:queue", dataset.name)


def _held(pk: int) -> CurationItem:
    return get_object_or_404(CurationItem.objects.select_related("dataset"), pk=pk)


@require_POST
@role_required(CURATOR)
def item_save(request: HttpRequest, pk: int) -> HttpResponse:
    item = _held(pk)
    form = EditForm(request.POST)
    if not form.is_valid():  # its data is never used: a missing field would be a 500
        return _refused(request, item, _errors_text(form), edit_form=form, status=400)
    try:
        services.curation_save(item=item, user=request.user, **form.cleaned_data)
    except services.CurationError as exc:
        return _refused(request, item, exc, edit_form=form)
    messages.success(request, f"saved candidate {item.pk}; it stays yours to accept or reject")
    return _after_post(request, item.dataset)


@require_POST
@role_required(CURATOR)
def item_accept(request: HttpRequest, pk: int) -> HttpResponse:
    item = _held(pk)
    form = EditForm(request.POST)
    if not form.is_valid():
        return _refused(request, item, _errors_text(form), edit_form=form, status=400)
    try:
        services.curation_accept(item=item, user=request.user, **form.cleaned_data)
    except services.CurationError as exc:
        return _refused(request, item, exc, edit_form=form)
    messages.success(request, f"accepted candidate {item.pk}")
    services.curation_claim_next(dataset=item.dataset, user=request.user)
    return _after_post(request, item.dataset)


@require_POST
@role_required(CURATOR)
def item_reject(request: HttpRequest, pk: int) -> HttpResponse:
    item = _held(pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _refused(request, item, _errors_text(form), reject_form=form, status=400)
    try:
        services.curation_reject(item=item, user=request.user, reason=form.cleaned_data["reason"])
    except services.CurationError as exc:
        return _refused(request, item, exc, reject_form=form)
    messages.success(request, f"rejected candidate {item.pk}")
    services.curation_claim_next(dataset=item.dataset, user=request.user)
    return _after_post(request, item.dataset)


@require_POST
@role_required(CURATOR)
def item_release(request: HttpRequest, pk: int) -> HttpResponse:
    item = _held(pk)
    services.curation_release(item=item, user=request.user)
    messages.info(request, f"gave candidate {item.pk} back to the queue")
    return redirect("curation:queue", item.dataset.name)


def _refused(
    request, item: CurationItem, error: Exception | str, *, status: int = 409, **forms
) -> HttpResponse:
    messages.error(request, str(error))
    held = services.held_item(dataset=item.dataset, user=request.user)
    if held is not None and held.pk != item.pk:
        forms = {}  # the posted text belongs to another item; show the held one as stored
    return _render_queue(request, item.dataset, held, status=status, **forms)


@require_GET
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(CurationItem, pk=pk)
    return render(request, "curation/item.html", {"item": selectors.item_with_history(item.pk)})


@require_POST
@role_required(CURATOR)
def freeze(request: HttpRequest, name: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, name=name)
    try:
        version = services.curation_freeze(dataset=dataset, user=request.user)
    except services.CurationError as exc:
        messages.error(request, str(exc))
        return redirect("curation:queue", dataset.name)
    messages.success(request, f"froze {version.num_examples} accepted examples as {version}")
    return redirect(version)


@require_POST
@role_required(OPERATOR)
def generate(request: HttpRequest) -> HttpResponse:
    from r1web.runs.recipes.generate import candidate_generation_create

    form = GenerateForm(request.POST)
    if form.is_valid():
        try:
            run = candidate_generation_create(**form.cleaned_data, user=request.user)
        except R1WebError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"started {run.name}")
            return redirect(run)
    context = {"queues": selectors.queues(), "generate_form": form}
    return render(request, "curation/index.html", context, status=400)
