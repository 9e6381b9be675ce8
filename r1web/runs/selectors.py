"""Reads for the run pages: lists with their latest metrics, and chart series."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib.auth import get_user_model
from django.db.models import (
    Avg,
    BigIntegerField,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.functions import Cast, Coalesce, Now
from django.shortcuts import get_object_or_404

from r1domain.stage_params import EvalParams
from r1web.datasets.models import DatasetVersion
from r1web.runs import charts, compare, graph, rollups
from r1web.runs.models import (
    MetricPoint,
    MetricRollup,
    Run,
    Stage,
    StageInput,
    StageKind,
    Status,
    stage_parameters,
)
from r1web.runs.reports import eval_label
from r1web.traces.models import Flag, FlagLabel, Sample

TRAINING = (StageKind.GRPO, StageKind.SFT)

# Our series name -> the metric keys that carry it, best first (TRL's names, then ours,
# then the per-step statistics of the samples that ``rollups`` keeps).
LOGGED_KEYS: dict[str, tuple[str, ...]] = {
    "reward": ("reward", "samples/reward"),
    "accuracy": ("accuracy", "rewards/accuracy/mean", "rewards/accuracy_reward/mean",
                 "samples/accuracy"),
    "format_rate": ("format_rate", "rewards/format/mean", "rewards/format_reward/mean",
                    "samples/format_rate"),
    "length_mean": ("completions/mean_length", "completion_length", "samples/length_mean"),
    "length_min": ("completions/min_length", "samples/length_min"),
    "length_max": ("completions/max_length", "samples/length_max"),
    "reflection_rate": ("reflection_rate", "samples/reflection_rate"),
    "kl": ("kl",),
    "entropy": ("entropy",),
    "loss": ("loss",),
}
ACCURACY_KEYS = LOGGED_KEYS["accuracy"]
SAMPLE_REFLECTION = rollups.SAMPLE_PREFIX + "reflection_rate"
REFLECTION_LABELS = (FlagLabel.REFLECTION, FlagLabel.AHA)


def get_run_for_user(request, pk: int) -> Run:
    """Every signed-in user may read every run; writes check roles in the view."""
    return get_object_or_404(Run.objects.select_related("created_by"), pk=pk)


def get_stage_for_user(request, pk: int) -> Stage:
    return get_object_or_404(Stage.objects.select_related("run"), pk=pk)


# --- the runs list ------------------------------------------------------------------

# How long a run has taken: until it finished, or until now while it runs.
RUN_DURATION = ExpressionWrapper(
    Coalesce(F("finished_at"), Now()) - F("started_at"), output_field=DurationField()
)
# ?sort= names -> what they order by; "-name" reverses. Runs never started sort last.
RUN_SORTS = {
    "created": F("created_at"),
    "recipe": F("recipe"),
    "status": F("status"),
    "person": F("created_by__username"),
    "duration": F("duration"),
}
DEFAULT_RUN_SORT = "-created"


def runs_for_list(
    *, recipe: str = "", status: str = "", person: str = "", sort: str = DEFAULT_RUN_SORT
) -> QuerySet[Run]:
    """Runs filtered and sorted for the list, with their duration, who launched them and
    their stages (progress bars, held-out scores): a page costs three queries however
    many runs it shows."""
    runs = (
        Run.objects.select_related("created_by")
        .annotate(duration=RUN_DURATION)
        .prefetch_related(Prefetch("stages", Stage.objects.order_by("position")))
    )
    if recipe:
        runs = runs.filter(recipe=recipe)
    if status:
        runs = runs.filter(status=status)
    if person:
        runs = runs.filter(created_by__username=person)
    field = RUN_SORTS.get(sort.removeprefix("-"), RUN_SORTS["created"])
    order = field.desc(nulls_last=True) if sort.startswith("-") else field.asc(nulls_last=True)
    return runs.order_by(order, "-pk")


def run_people() -> list[str]:
    """Everyone who launched a run, for the list's filter."""
    users = get_user_model().objects.filter(run__isnull=False).distinct().order_by("username")
    return list(users.values_list("username", flat=True))


def held_out(run: Run) -> compare.HeldOut:
    """The run's first and last evaluation's pass@1, from its prefetched stages."""
    evals = [stage for stage in run.stages.all() if stage.kind == StageKind.EVAL]
    return compare.held_out([(eval_label(stage), stage.result or {}) for stage in evals])


def runs_active(runs: Iterable[Run]) -> bool:
    return any(not run.is_finished() for run in runs)


def training_stage_ids(
    run: Run, stage_key: str = "", stages: Sequence[Stage] | None = None
) -> list[int]:
    """The training stages a run's charts draw: all of them, or the one named by its key
    (a recipe's keys are the same in every run, so compared runs line up). ``stages``,
    the run's stages from ``stages_of``, saves the query."""
    if stages is None:
        stages = run.stages.filter(kind__in=TRAINING).order_by("position")
        stages = stages.only("pk", "run", "key", "kind")
    training = training_of(stages)
    if stage_key:
        picked = [stage.pk for stage in training if stage.key == stage_key]
        if picked:
            return picked
    return [stage.pk for stage in training]


def training_of(stages: Iterable[Stage]) -> list[Stage]:
    """The training stages among a run's stages, in their order (no query)."""
    return [stage for stage in stages if stage.kind in TRAINING]


def training_stages(run: Run) -> QuerySet[Stage]:
    return run.stages.filter(kind__in=TRAINING).order_by("position")


def clean_stage_key(raw: str | None) -> str:
    """A stage key from a query string, or "" (all training stages)."""
    text = (raw or "").strip()
    return text if text and len(text) <= 60 and text.replace("-", "").isalnum() else ""


def metric_keys(stage_ids: Sequence[int]) -> set[str]:
    """The keys logged by these stages, read from the coarsest summaries when there are any
    (a DISTINCT over a million raw points costs a full scan)."""
    return set(metric_sizes(stage_ids))


def metric_sizes(stage_ids: Sequence[int]) -> dict[str, int | None]:
    """Each key these stages logged and its number of points, from the coarsest summaries
    (a few rows per key); None where points were stored without summaries."""
    coarse = MetricRollup.objects.filter(stage_id__in=stage_ids, size=rollups.LEVELS[-1])
    sizes = dict(coarse.values("key").annotate(n=Sum("count")).values_list("key", "n"))
    if sizes:
        return sizes
    raw = MetricPoint.objects.filter(stage_id__in=stage_ids)
    return dict.fromkeys(raw.values_list("key", flat=True).distinct())


# Series this small are read whole in one query for all of them and downsampled here;
# larger ones are bucketed by the database (``metric_series``).
RAW_BUDGET = 40_000


def series_points(
    stage_ids: Sequence[int], keys: Iterable[str], sizes: dict[str, int | None],
    x_range: tuple[int, int] | None, points: int,
) -> dict[str, list[charts.Point]]:
    """The points of several metric keys, downsampled to ``points`` buckets each."""
    small, budget = [], RAW_BUDGET
    if x_range is None:
        for key in sorted(set(keys), key=lambda k: sizes.get(k) or RAW_BUDGET + 1):
            size = sizes.get(key)
            if size is None or size > budget:
                break
            small.append(key)
            budget -= size
    read: dict[str, list[charts.Point]] = {key: [] for key in small}
    if small:
        rows = MetricPoint.objects.filter(stage_id__in=stage_ids, key__in=small)
        for key, step, value in rows.order_by("step").values_list("key", "step", "value"):
            read[key].append((step, value))
    found = {key: charts.downsample(values, points) for key, values in read.items()}
    for key in set(keys) - set(small):
        found[key] = metric_series(stage_ids, key, x_range, points)
    return found


def metric_series(
    stage_ids: Sequence[int], key: str, x_range: tuple[int, int] | None, points: int
) -> list[charts.Point]:
    """One metric's points in ``x_range``, downsampled in the database when there are many.

    A wide range reads the block summaries of ``rollups`` (the coarsest that fits a
    bucket), so a million-step series costs about a thousand rows; a narrow one reads
    the raw points. Blocks cut by the range's edges count whole: at most one bucket off.
    """
    rows = MetricPoint.objects.filter(stage_id__in=stage_ids, key=key)
    if x_range:
        rows = rows.filter(step__gte=x_range[0], step__lte=x_range[1])
    bounds = rows.aggregate(lo=Min("step"), hi=Max("step"))
    lo, hi = bounds["lo"], bounds["hi"]
    if lo is None:
        return []
    width = hi - lo + 1
    if width <= 3 * points:
        return list(rows.order_by("step").values_list("step", "value"))
    size = rollups.level_for(width / points)
    if size is not None:
        summaries = MetricRollup.objects.filter(
            stage_id__in=stage_ids, key=key, size=size, block__gte=lo // size, block__lte=hi // size
        ).annotate(step=F("block") * size)
        if summaries.exists():
            return _bucketed(summaries, lo, width, points, ("low", "high", "last_step", "last"))
    return _bucketed(rows, lo, width, points, ("value", "value", "step", "value"))


def _bucketed(rows: QuerySet, lo: int, width: int, points: int, fields) -> list[charts.Point]:
    low_field, high_field, last_step_field, last_field = fields
    # In bigint: a million steps times a few thousand points overflows a 32-bit integer.
    bucket = Cast(F("step") - lo, BigIntegerField()) * points / width
    stats = list(
        rows.annotate(bucket=bucket)
        .values("bucket")
        .annotate(low=Min(low_field), high=Max(high_field), end=Max(last_step_field))
        .order_by("bucket")
        .values_list("bucket", "low", "high", "end")
    )
    ends = [row[3] for row in stats]
    at_ends = rows.filter(**{f"{last_step_field}__in": ends})
    last_values = dict(at_ends.values_list(last_step_field, last_field))
    bucket_width = width / points
    return charts.bucket_rows_to_points(
        (lo + (b + 0.5) * bucket_width, low, high, end, last_values.get(end, high))
        for b, low, high, end in stats
    )


def sample_step_stats(stage_ids: Sequence[int], x_range: tuple[int, int] | None) -> list[dict]:
    """Per step: accuracy, format rate, length mean/min/max and reflection rate of samples
    (a scan of the samples: the CSV download's; pages read ``rollups``' points)."""
    samples = Sample.objects.filter(stage_id__in=stage_ids, probe=False)
    if x_range:
        samples = samples.filter(step__gte=x_range[0], step__lte=x_range[1])
    return list(
        samples.values("step")
        .annotate(
            total=Count("id"),
            reward=Avg("reward"),
            accuracy=Avg(Case(When(correct=True, then=1.0), default=0.0, output_field=FloatField())),
            format_rate=Avg(Case(When(format_ok=True, then=1.0), default=0.0, output_field=FloatField())),
            reflective=Sum(Case(When(reflection_count__gt=0, then=1), default=0)),
            length_mean=Avg("length_tokens"),
            length_min=Min("length_tokens"),
            length_max=Max("length_tokens"),
        )
        .order_by("step")
    )


def flag_counts(run: Run, x_range: tuple[int, int] | None) -> list[charts.Point]:
    """Human reflection flags (reflection or aha) per step."""
    flags = Flag.objects.filter(run=run, label__in=REFLECTION_LABELS)
    if x_range:
        flags = flags.filter(step__gte=x_range[0], step__lte=x_range[1])
    rows = flags.values("step").annotate(n=Count("id")).order_by("step")
    return [(row["step"], row["n"]) for row in rows]


def run_series(
    run: Run, x_range: tuple[int, int] | None, points: int, stage_key: str = "",
    stages: Sequence[Stage] | None = None,
) -> dict[str, list]:
    """Every chart series of a run: logged metrics first, sample statistics where missing."""
    stage_ids = training_stage_ids(run, stage_key, stages)
    sizes = metric_sizes(stage_ids)
    chosen: dict[str, str] = {}  # series name -> the key that carries it
    for name, candidates in LOGGED_KEYS.items():
        key = next((k for k in candidates if k in sizes), None)
        if key:
            chosen[name] = key
    for key in reward_function_keys(sizes):
        chosen[key] = key
    found = series_points(stage_ids, chosen.values(), sizes, x_range, points)
    series = {name: found[key] for name, key in chosen.items()}
    series["flags"] = charts.downsample(flag_counts(run, x_range), points)
    return series


def reward_function_keys(keys: Iterable[str]) -> list[str]:
    """TRL's per-function reward means: ``rewards/<name>/mean``."""
    return sorted(k for k in keys if k.startswith("rewards/") and k.endswith("/mean"))


def run_figures(
    runs: Sequence[Run],
    x_range: tuple[int, int] | None,
    points: int,
    smoothing: float = 0.0,
    stage_key: str = "",
    stages: Sequence[Stage] | None = None,
) -> dict:
    """Every chart of the run page, for one run or several overlaid (``stages``: the
    first run's, from ``stages_of``, when the caller has them)."""
    per_run = [
        (f"#{run.pk} {run.name}",
         run_series(run, x_range, points, stage_key, stages if number == 0 else None))
        for number, run in enumerate(runs)
    ]
    reward_keys = {k for _, s in per_run for k in s if k.startswith("rewards/")}
    chart_list = [charts.reward_chart(reward_keys), *charts.CHARTS[1:]]
    return {
        chart.slug: charts.smooth_figure(charts.figure(chart, per_run), smoothing)
        for chart in chart_list
    }


# --- the aha finder's inputs --------------------------------------------------------

def reflection_counts(stage_ids: Sequence[int]) -> list[charts.StepCount]:
    """Samples and reflective samples per step, from ``rollups``' per-step points (steps
    of several stages are pooled)."""
    # One row per stage and step, both points side by side: half the rows a long run's
    # page reads (a 25,000-step run has 50,000 points), and no pairing up in Python.
    rows = (
        MetricPoint.objects.filter(
            stage_id__in=stage_ids, key__in=(rollups.SAMPLE_COUNT, SAMPLE_REFLECTION))
        .order_by()
        .values("stage_id", "step")
        .annotate(count=Max("value", filter=Q(key=rollups.SAMPLE_COUNT)),
                  rate=Max("value", filter=Q(key=SAMPLE_REFLECTION)))
        .values_list("step", "count", "rate")
    )
    totals: dict[int, list[int]] = {}
    for step, count, rate in rows:
        if count is None:
            continue
        pooled = totals.setdefault(step, [0, 0])
        pooled[0] += round(count)
        pooled[1] += round(count * (rate or 0.0))
    return [charts.StepCount(step, total, reflective)
            for step, (total, reflective) in sorted(totals.items())]


def base_reflection(run: Run, stages: Sequence[Stage] | None = None) -> charts.StepCount | None:
    """The base model's reflection count: the run's first "before" evaluation, if any
    (``stages``: the run's, from ``stages_of``, saves a query)."""
    if stages is None:
        stage = run.stages.filter(kind=StageKind.EVAL).order_by("position").first()
    else:
        stage = next((stage for stage in stages if stage.kind == StageKind.EVAL), None)
    if stage is None or (stage_parameters(stage, EvalParams).label or "before") != "before":
        return None
    pooled = reflection_counts([stage.pk])
    total = sum(count.total for count in pooled)
    if not total:
        return None
    return charts.StepCount(0, total, sum(count.reflective for count in pooled))


def run_aha(
    run: Run, stages: Sequence[Stage] | None = None
) -> tuple[charts.Aha | None, list[Sample]]:
    """The aha step of a run and a few reflective samples from it."""
    stage_ids = training_stage_ids(run, stages=stages)
    found = charts.aha_step(reflection_counts(stage_ids), base_reflection(run, stages))
    if found is None:
        return None, []
    examples = Sample.objects.filter(
        stage_id__in=stage_ids, step=found.step, reflection_count__gt=0, probe=False
    ).order_by("-reward", "id")[:5]
    return found, list(examples.only("id", "step", "reward", "reflection_phrases", "correct"))


def compare_runs(raw: str | None, run: Run) -> list[Run]:
    """The run itself and the runs named in ``?compare=1,2,3`` (unknown ids are dropped)."""
    ids = parse_ids([raw or ""])
    others = Run.objects.filter(pk__in=[i for i in ids if i != run.pk])[:8]
    return [run, *others]


MAX_X = 2**31 - 1  # steps are 32-bit integers in the database


def parse_x_range(x0: str | None, x1: str | None) -> tuple[int, int] | None:
    """The zoomed step range ``?x0=&x1=``, clamped to steps; None when either is unreadable."""
    try:
        lo, hi = int(float(x0)), int(float(x1))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: "inf"
        return None
    lo, hi = (max(-MAX_X, min(MAX_X, x)) for x in (lo, hi))
    return (min(lo, hi), max(lo, hi))


def metrics_rows(run: Run) -> Iterable[tuple]:
    """Every logged metric point of a run, for the CSV download (streamed)."""
    return (
        MetricPoint.objects.filter(stage__run=run)
        .order_by("stage__position", "key", "step")
        .values_list("stage__name", "step", "key", "value")
        .iterator(chunk_size=5000)
    )


def step_stats_rows(run: Run) -> list[dict]:
    return sample_step_stats(training_stage_ids(run), None)


def stages_of(run: Run) -> QuerySet[Stage]:
    """A run's stages with everything the stage table, graph and lineage show: a fixed
    number of queries however many stages there are."""
    return (
        run.stages.select_related("output_checkpoint", "input_checkpoint", "reused_from",
                                  "input_from__output_checkpoint")
        .prefetch_related(
            Prefetch("needs", Stage.objects.only("pk", "name", "status", "position")),
            Prefetch("inputs", StageInput.objects.select_related("version__dataset")),
            Prefetch("outputs", DatasetVersion.objects.select_related("dataset").order_by("pk")),
        )
        .order_by("position")
    )


def stages_active(stages: Iterable[Stage]) -> bool:
    return any(not stage.is_finished() for stage in stages)



# --- the stage graph ----------------------------------------------------------------

GRAPH_STOPPED = (Status.FAILED, Status.CANCELLED)


def stage_graph(stages: Sequence[Stage]) -> graph.Layout:
    """The run's stage graph laid out for the page, from ``stages_of`` rows (no query)."""
    keys = {stage.pk: stage.key or f"stage-{stage.pk}" for stage in stages}
    nodes = [_graph_node(stage, keys[stage.pk]) for stage in stages]
    edges = [edge for stage in stages for edge in _graph_edges(stage, keys)]
    return graph.layout(nodes, edges)


def _graph_node(stage: Stage, key: str) -> graph.Node:
    note = ""
    if stage.reused_from_id:
        note = "reused"
    elif stage.status == Status.PENDING:
        # Only a need that stopped is worth a note: otherwise waiting is just the plan.
        unmet = [n for n in stage.needs.all() if n.status != Status.SUCCEEDED]
        first = min(unmet, key=lambda n: n.position, default=None)
        if first is not None and first.status in GRAPH_STOPPED:
            note = f"waiting on {first.name}"
    return graph.Node(key, stage.name, stage.get_kind_display(), stage.status,
                      stage.get_absolute_url(), note)


def _graph_edges(stage: Stage, keys: dict[int, str]) -> list[graph.Edge]:
    target = keys[stage.pk]
    edges = []
    fed_by = set()
    if stage.input_from_id in keys:
        checkpoint = stage.input_checkpoint  # pinned when the stage was queued
        edges.append(graph.Edge(
            keys[stage.input_from_id], target, "model",
            checkpoint.get_absolute_url() if checkpoint else "",
            checkpoint.name if checkpoint else "",
        ))
        fed_by.add(stage.input_from_id)
    for link in stage.inputs.all():
        if link.from_stage_id not in keys:
            continue
        version = link.version
        edges.append(graph.Edge(
            keys[link.from_stage_id], target, "dataset",
            version.get_absolute_url() if version else "",
            f"{version} ({link.role})" if version else "",
        ))
        fed_by.add(link.from_stage_id)
    for need in stage.needs.all():
        if need.pk not in fed_by and need.pk in keys:
            edges.append(graph.Edge(keys[need.pk], target, "needs"))
    return edges


# --- comparing runs -----------------------------------------------------------------

MAX_COMPARED = 8


MAX_ID_DIGITS = 18  # any bigint primary key, and never an int() of thousands of digits


def parse_ids(values: Iterable[str]) -> list[int]:
    """Ids from ``?runs=1,2&runs=3`` (comma lists, repeated parameters or both), in order.

    Anything else is dropped: "²" passes ``isdigit`` but is no number for ``int``.
    """
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            readable = part.isascii() and part.isdecimal() and len(part) <= MAX_ID_DIGITS
            if readable and int(part) not in ids:
                ids.append(int(part))
    return ids


def get_runs_for_user(request, ids: Sequence[int]) -> list[Run]:
    """The runs named, in the order named; unknown ids are dropped. Every signed-in user
    may read every run (as ``get_run_for_user``)."""
    found = Run.objects.in_bulk(ids[:MAX_COMPARED])
    return [found[pk] for pk in ids[:MAX_COMPARED] if pk in found]


def compare_selection(
    request, run_ids: Sequence[int], stage_ids: Sequence[int]
) -> tuple[list[Run], list[Stage]]:
    """The runs to compare and the eval stages to put side by side.

    ``stage_ids`` narrow a run to those of its evaluations; a run none of them belongs
    to shows all of its own (so a run just ticked in the form is not left empty). With
    no ``run_ids``, the runs are those of the stages.
    """
    evals = Stage.objects.filter(kind=StageKind.EVAL).select_related("run")
    picked = {stage.pk: stage for stage in evals.filter(pk__in=stage_ids)} if stage_ids else {}
    if not run_ids:
        run_ids = list(dict.fromkeys(picked[pk].run_id for pk in stage_ids if pk in picked))
    runs = get_runs_for_user(request, run_ids)
    order = {run.pk: index for index, run in enumerate(runs)}
    narrowed = {stage.run_id for stage in picked.values()}
    stages = [
        stage for stage in evals.filter(run__in=runs)
        if stage.run_id not in narrowed or stage.pk in picked
    ]
    stages.sort(key=lambda stage: (order[stage.run_id], stage.position))
    return runs, stages


def eval_columns(stages: Sequence[Stage]) -> list[compare.Column]:
    return [
        compare.Column(
            run_id=stage.run_id, run_name=stage.run.name, stage_id=stage.pk,
            label=eval_label(stage), url=stage.get_absolute_url(),
            result=stage.result or {},
        )
        for stage in stages
    ]


def compare_choices(chosen: Sequence[Run], limit: int = 50) -> list[tuple[Run, bool, list]]:
    """What the comparison form offers: (run, ticked, its evaluations if ticked), the
    chosen runs first, then the most recent others."""
    recent = [run for run in Run.objects.order_by("-created_at")[:limit] if run not in chosen]
    runs = [*chosen, *recent]
    evals: dict[int, list[Stage]] = {}
    ticked = Stage.objects.filter(kind=StageKind.EVAL, run__in=chosen)
    for stage in ticked.order_by("position"):
        evals.setdefault(stage.run_id, []).append(stage)
    return [(run, run in chosen, evals.get(run.pk, [])) for run in runs]
