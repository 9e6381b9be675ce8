"""The trace browser, a sample with its flags, a GRPO group and a prompt's evolution."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from r1web.accounts.access import role_required
from r1web.accounts.roles import CURATOR
from r1web.curation.selectors import promotion_targets
from r1web.htmx import render_partial, wants_partial
from r1web.runs.selectors import get_run_for_user
from r1web.traces import selectors
from r1web.traces.columns import COLUMNS, chosen_columns
from r1web.traces.evolution import evolution as evolution_of
from r1web.traces.forms import FlagForm, TraceFilterForm
from r1web.traces.models import Flag, FlagLabel
from r1web.traces.services import FlagError, sample_flag, sample_unflag

LONG_THINK = 1500  # characters; longer reasoning starts collapsed


def _filter_query(params) -> str:
    """The current filter as a query string, without the page cursor."""
    params = params.copy()
    params.pop("after", None)
    return params.urlencode()


@require_GET
def sample_list(request):
    params = selectors.browser_params(request.GET)  # the default view when none is asked
    page = selectors.samples_page(params)
    form = TraceFilterForm(params)
    form.is_valid()
    return render_partial(request, "traces/list.html", "results", {
        "form": form,
        "page": page,
        "total": selectors.count_samples(params, page),
        "columns": chosen_columns(params),
        "all_columns": COLUMNS,
        "query": form.cleaned_data.get("q") or "",
        "filter_query": _filter_query(params),
        "runs": selectors.run_choices(),
        "stages": selectors.stage_choices(form.cleaned_data.get("run")),
    })


@require_GET
def sample_detail(request, pk: int):
    """The sample's page; htmx asks for its body alone, for the trace browser's panel."""
    sample = selectors.get_sample_for_user(request, pk)
    previous, following = selectors.neighbours(request.GET, sample)
    return render_partial(request, "traces/sample.html", "sample-body", {
        "sample": sample,
        "flags": selectors.sample_flags(sample, request.user),
        "labels": FlagLabel,
        "previous": previous,
        "following": following,
        "filter_query": _filter_query(request.GET),
        "think_collapsed": len(sample.think) > LONG_THINK,
        "in_panel": wants_partial(request),
        "targets": promotion_targets(),
    })


def _flags_response(request, sample, error: str = ""):
    """htmx gets the flags fragment back; a plain form post goes back to the sample."""
    if not wants_partial(request):
        if error:
            messages.error(request, error)
        return redirect(f"{sample.get_absolute_url()}?{_filter_query(request.GET)}")
    context = {
        "sample": sample, "flags": selectors.sample_flags(sample, request.user),
        "labels": FlagLabel,
        "error": error,
    }
    return render_partial(request, "traces/sample.html", "flags", context,
                          status=400 if error else 200)


@require_POST
@role_required(CURATOR)
def flag_create(request, pk: int):
    sample = selectors.get_sample_for_user(request, pk)
    form = FlagForm(request.POST)
    if not form.is_valid():  # NUL bytes or over-long text would fail in the database
        return _flags_response(request, sample, error=form.error_text())
    try:
        sample_flag(sample=sample, user=request.user, **form.cleaned_data)
    except FlagError as exc:
        return _flags_response(request, sample, error=str(exc))
    return _flags_response(request, sample)


@require_POST
@role_required(CURATOR)
def flag_delete(request, pk: int):
    flag = get_object_or_404(Flag.objects.select_related("sample"), pk=pk)
    try:
        sample_unflag(flag=flag, user=request.user)
    except FlagError as exc:
        return _flags_response(request, flag.sample, error=str(exc))
    return _flags_response(request, flag.sample)


@require_GET
def group_detail(request, stage: int, step: int, group: int):
    samples = selectors.group_samples(stage, step, group)
    if not samples:
        return render(request, "traces/group.html", {"samples": []}, status=404)
    return render(request, "traces/group.html", {
        "samples": samples,
        "first": samples[0],
        "reward_names": selectors.reward_names(samples),
    })


@require_GET
def evolution(request, run: int):
    run = get_run_for_user(request, run)
    key = request.GET.get("key", "")
    # Stored keys hold no NUL and at most 200 characters: any other key matches nothing
    # (and NUL would be refused by PostgreSQL: a 500, not an empty answer).
    findable = key and len(key) <= 200 and "\x00" not in key
    samples = selectors.evolution_samples(run, key) if findable else []
    return render_partial(request, "traces/evolution.html", "evolution-detail", {
        "run": run, "key": key, "samples": samples,
        "evolution": evolution_of(samples, request.GET),
        "probes": selectors.probe_prompts(run),
    })
