"""Run pages: the list, a run with its charts, a stage, a checkpoint; launch and control."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from r1domain.errors import R1WebError
from r1web.accounts.access import role_required
from r1web.accounts.roles import OPERATOR
from r1web.datasets.selectors import lineage_for_run, lineage_for_stage
from r1web.htmx import render_partial, stop_polling_when, wants_partial
from r1web.runs import chart_cache, charts, compare, selectors, summary, waiting
from r1web.runs.forms import LaunchForm, RunFilterForm, sort_headings
from r1web.runs.models import Checkpoint
from r1web.runs.panels import stage_panel
from r1web.runs.recipes import RECIPES, launch
from r1web.runs.services import RunError, run_cancel, run_resume

RUNS_PER_PAGE = 25


# Pages only read: a stage whose worker died is shown lost (r1web.runs.waiting) and failed
# by the workers' reaper (workers.tasks), by `run_recipe --wait` or by a resume, never by
# a GET.
@require_GET
def run_list(request):
    """Runs newest first, filtered and sorted by the query string (bookmarkable); htmx
    swaps only the table when a filter, a sort or a page changes, or while runs train."""
    form = RunFilterForm(request.GET, people=selectors.run_people())
    filters = form.filters()
    page = Paginator(selectors.runs_for_list(**filters), RUNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "form": form,
        "page": page,
        "rows": [(run, selectors.held_out(run)) for run in page],
        "headings": sort_headings(filters["sort"]),
        "sort": filters["sort"],
        "active": selectors.runs_active(page),
        "filtered": any(filters[name] for name in ("recipe", "status", "person")),
    }
    response = render_partial(request, "runs/list.html", "run-table", context)
    return stop_polling_when(wants_partial(request) and not context["active"], response)


@require_GET
@role_required(OPERATOR)
def run_new(request):
    return render(request, "runs/new.html", {"recipes": RECIPES.values()})


@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)
def run_launch(request, recipe: str):
    spec = RECIPES.get(recipe)
    if spec is None:
        raise Http404("no such recipe")
    form = LaunchForm(spec, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = launch(recipe, form.values(), user=request.user, queue=form.cleaned_data["queue"])
        except R1WebError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Run {run} queued.")
            return redirect(run)
    return render(request, "runs/launch.html", {"form": form, "recipe": spec})


@require_GET
def run_detail(request, pk: int):
    run = selectors.get_run_for_user(request, pk)
    stages = list(selectors.stages_of(run))
    context = {
        "run": run,
        "stages": stages,
        "graph": selectors.stage_graph(stages),
        "active": selectors.stages_active(stages),
        "notices": waiting.stage_notices(stages),
    }
    if wants_partial(request):
        response = render_partial(request, "runs/detail.html", "stages", context)
        return stop_polling_when(not context["active"], response)
    points = charts.clamp_points(request.GET.get("points"))
    smoothing = charts.clamp_smoothing(request.GET.get("smoothing"))
    compared = selectors.compare_runs(request.GET.get("compare"), run)
    stage_key = selectors.clean_stage_key(request.GET.get("stage"))
    context |= summary.run_summary(run, stages) | {
        "figures": chart_cache.run_figures(compared, None, points, smoothing, stage_key, stages),
        "training_stages": selectors.training_of(stages),
        "chart_stage": stage_key,
        "points": points,
        "smoothing": smoothing,
        "compare": ",".join(str(r.pk) for r in compared[1:]),
        "compared": compared[1:],
        "lineages": lineage_for_run(run, stages),
    }
    return render_partial(request, "runs/detail.html", "stages", context)


@require_GET
def run_chart_data(request, pk: int):
    """The run's figures as JSON: polled while it trains, refetched on zoom."""
    run = selectors.get_run_for_user(request, pk)
    compared = selectors.compare_runs(request.GET.get("compare"), run)
    x_range = selectors.parse_x_range(request.GET.get("x0"), request.GET.get("x1"))
    points = charts.clamp_points(request.GET.get("points"))
    smoothing = charts.clamp_smoothing(request.GET.get("smoothing"))
    stage_key = selectors.clean_stage_key(request.GET.get("stage"))
    figures = chart_cache.run_figures_json(compared, x_range, points, smoothing, stage_key)
    live = any(not r.is_finished() for r in compared)
    # {"figures": ..., "live": ...} around the figures' cached JSON, not encoded again.
    body = f'{{"figures": {figures}, "live": {json.dumps(live)}}}'
    return HttpResponse(body, content_type="application/json")


@require_GET
def run_compare(request):
    """Evaluations of several runs side by side, with deltas, and their curves overlaid."""
    run_ids = selectors.parse_ids(request.GET.getlist("runs"))
    stage_ids = selectors.parse_ids(request.GET.getlist("stages"))
    baseline = compare.clean_baseline(request.GET.get("baseline"))
    runs, stages = selectors.compare_selection(request, run_ids, stage_ids)
    columns = selectors.eval_columns(stages)
    rows = compare.comparison_rows(columns, baseline)
    if request.GET.get("format") == "csv":
        return _compare_csv(runs, columns, rows)
    points = charts.clamp_points(request.GET.get("points"))
    smoothing = charts.clamp_smoothing(request.GET.get("smoothing"))
    context = {
        "runs": runs,
        "columns": columns,
        "rows": rows,
        "baseline": baseline,
        "choices": selectors.compare_choices(runs),
        "picked_stages": {stage.pk for stage in stages},
        "csv_query": _with_param(request, "format", "csv"),
        "figures": selectors.run_figures(runs, None, points, smoothing) if runs else {},
        "points": points,
        "smoothing": smoothing,
        "compare": ",".join(str(run.pk) for run in runs[1:]),
        "live": selectors.runs_active(runs),
    }
    return render(request, "runs/compare.html", context)


def _with_param(request, name: str, value: str) -> str:
    query = request.GET.copy()
    query[name] = value
    return query.urlencode()


def _compare_csv(runs, columns, rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    names = "-".join(str(run.pk) for run in runs) or "none"
    response["Content-Disposition"] = f'attachment; filename="compare-runs-{names}.csv"'
    csv.writer(response).writerows(compare.csv_table(columns, rows))
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
def run_metrics_csv(request, pk: int):
    """Every logged metric and every per-step sample statistic, unsampled."""
    run = selectors.get_run_for_user(request, pk)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["run", "source", "step", "key", "value"])
        for stage_name, step, key, value in selectors.metrics_rows(run):
            yield writer.writerow([run.pk, stage_name, step, key, value])
        for stats in selectors.step_stats_rows(run):
            for key, value in stats.items():
                if key != "step":
                    yield writer.writerow([run.pk, "samples", stats["step"], key, value])

    response = StreamingHttpResponse(_chunked(rows()), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-metrics.csv"'
    return response


CSV_CHUNK_LINES = 2000  # one streamed chunk per line made Django's streaming half the cost


def _chunked(lines: Iterable[str]) -> Iterator[str]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == CSV_CHUNK_LINES:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)


@require_POST
@role_required(OPERATOR)
def run_cancel_view(request, pk: int):
    run = selectors.get_run_for_user(request, pk)
    try:
        run_cancel(run=run, acting_user=request.user)
    except RunError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Run {run} is being cancelled.")
    return redirect(run)


@require_POST
@role_required(OPERATOR)
def run_resume_view(request, pk: int):
    run = selectors.get_run_for_user(request, pk)
    try:
        stage = run_resume(run=run, acting_user=request.user)
    except RunError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Run {run} resumes at stage {stage.name}.")
    return redirect(run)


@require_GET
def stage_detail(request, pk: int):
    stage = selectors.get_stage_for_user(request, pk)
    partial = wants_partial(request)
    context = {"stage": stage, "run": stage.run, "notices": waiting.stage_notices([stage])}
    if not partial:
        context |= stage_panel(stage) | {"lineages": [(None, lineage_for_stage(stage))]}
    response = render_partial(request, "runs/stage.html", "stage-progress", context)
    return stop_polling_when(partial and stage.is_finished(), response)


@require_GET
def checkpoint_detail(request, pk: int):
    checkpoint = get_object_or_404(Checkpoint.objects.select_related("produced_by__run"), pk=pk)
    return render(request, "runs/checkpoint.html", {"checkpoint": checkpoint})
