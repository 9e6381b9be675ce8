"""Run pages: the list, a run with its charts, a stage, a checkpoint; launch and control."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from r1web.accounts.access import role_required
from r1web.accounts.roles import OPERATOR
from r1web.runs import charts, selectors
from r1web.runs.forms import NewRunForm
from r1web.runs.models import Checkpoint
from r1web.runs.recipes import r1_zero_create
from r1web.runs.services import RunError, run_cancel, run_resume, stages_reap_stale
from workers.stages.base import ConfigError


def _stop_polling_when(finished: bool, response: HttpResponse) -> HttpResponse:
    """htmx stops polling on status 286; the final fragment is still swapped in."""
    if not finished:
        return response
    return HttpResponseStopPolling(response.content, content_type=response["Content-Type"])


@require_GET
def run_list(request):
    stages_reap_stale()
    runs = list(selectors.runs_for_list()[:100])
    active = selectors.runs_active(runs)
    template = "runs/list.html"
    if request.htmx:
        template += "#run-table"
    response = render(request, template, {"runs": runs, "active": active})
    return _stop_polling_when(bool(request.htmx) and not active, response)


@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)
def run_new(request):
    form = NewRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = r1_zero_create(args=form.args(), user=request.user)
        except (RunError, ConfigError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Run {run} queued.")
            return redirect(run)
    return render(request, "runs/new.html", {"form": form})


@require_GET
def run_detail(request, pk: int):
    stages_reap_stale()
    run = selectors.get_run_for_user(request, pk)
    stages = list(selectors.stages_of(run))
    context = {"run": run, "stages": stages, "active": selectors.stages_active(stages)}
    if request.htmx:
        response = render(request, "runs/detail.html#stages", context)
        return _stop_polling_when(not context["active"], response)
    points = charts.clamp_points(request.GET.get("points"))
    smoothing = charts.clamp_smoothing(request.GET.get("smoothing"))
    compared = selectors.compare_runs(request.GET.get("compare"), run)
    aha, aha_examples = selectors.run_aha(run)
    context |= {
        "figures": selectors.run_figures(compared, None, points, smoothing),
        "points": points,
        "smoothing": smoothing,
        "compare": ",".join(str(r.pk) for r in compared[1:]),
        "compared": compared[1:],
        "aha": aha,
        "aha_examples": aha_examples,
    }
    return render(request, "runs/detail.html", context)


@require_GET
def run_chart_data(request, pk: int):
    """The run's figures as JSON: polled while it trains, refetched on zoom."""
    run = selectors.get_run_for_user(request, pk)
    compared = selectors.compare_runs(request.GET.get("compare"), run)
    x_range = selectors.parse_x_range(request.GET.get("x0"), request.GET.get("x1"))
    points = charts.clamp_points(request.GET.get("points"))
    smoothing = charts.clamp_smoothing(request.GET.get("smoothing"))
    figures = selectors.run_figures(compared, x_range, points, smoothing)
    live = any(not r.is_finished() for r in compared)
    return JsonResponse({"figures": figures, "live": live})


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

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-metrics.csv"'
    return response


@require_POST
@role_required(OPERATOR)
def run_cancel_view(request, pk: int):
    run = selectors.get_run_for_user(request, pk)
    try:
        run_cancel(run=run)
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
        stage = run_resume(run=run)
    except RunError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Run {run} resumes at stage {stage.name}.")
    return redirect(run)


@require_GET
def stage_detail(request, pk: int):
    stage = selectors.get_stage_for_user(request, pk)
    template = "runs/stage.html"
    if request.htmx:
        template += "#stage-progress"
    response = render(request, template, {"stage": stage, "run": stage.run})
    return _stop_polling_when(bool(request.htmx) and stage.is_finished(), response)


@require_GET
def checkpoint_detail(request, pk: int):
    checkpoint = get_object_or_404(Checkpoint.objects.select_related("produced_by__run"), pk=pk)
    return render(request, "runs/checkpoint.html", {"checkpoint": checkpoint})
