"""Reads for the trace browser: filtering, keyset paging, groups and evolutions.

Paging is by keyset (``after=<sort value>:<id>``), never OFFSET: a deep page costs the
same as the first one over millions of samples.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection, transaction
from django.db.models import (
    BigIntegerField,
    Exists,
    F,
    FloatField,
    Func,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Cast
from django.db.models.lookups import GreaterThan, LessThan
from django.http import QueryDict
from django.shortcuts import get_object_or_404

from r1domain.rejection import KEPT
from r1web.accounts.roles import role_of
from r1web.runs.models import Run, Stage, StageKind
from r1web.traces.forms import (
    EVALUATION,
    FILTER_PARAMETERS,
    MAX_ID,
    REJECTED,
    TRAINING,
    cleaned,
)
from r1web.traces.models import Flag, FlagLabel, Sample

PAGE_SIZE = 50
MAX_CURSOR = 60  # characters: a float's repr, a colon and an id
# sort name -> (field, descending)
SORT_FIELDS: dict[str, tuple[str, bool]] = {
    "newest": ("id", True),
    "step": ("step", False),
    "-step": ("step", True),
    "reward": ("reward", False),
    "-reward": ("reward", True),
    "length": ("length_tokens", False),
    "-length": ("length_tokens", True),
}
_BOOLEAN_FILTERS = {"correct": "correct", "format_ok": "format_ok"}
TRAINING_KINDS = (StageKind.GRPO, StageKind.SFT)
EVALUATION_KINDS = (StageKind.EVAL,)


def browser_params(params: QueryDict) -> QueryDict:
    """``params``, or the default view when they name no filter at all: the training
    samples of the latest run that has some. A submitted filter form always names its
    fields, so choosing "all runs" (``run=``) is not overridden."""
    if any(name in params for name in FILTER_PARAMETERS):
        return params
    run_id = latest_training_run_id()
    if run_id is None:
        return params
    params = params.copy()
    params["run"], params["samples"] = str(run_id), TRAINING
    return params


def latest_training_run_id() -> int | None:
    """The newest run with a training stage that has written samples."""
    wrote = Sample.objects.filter(stage=OuterRef("pk"), probe=False)
    return (
        Stage.objects.filter(Exists(wrote), kind__in=TRAINING_KINDS)
        .order_by("-run__created_at", "-run_id")
        .values_list("run_id", flat=True)
        .first()
    )


def filter_samples(params: QueryDict, *, bounded: bool = True) -> QuerySet[Sample]:
    """Every sample matching the browser's filters in ``params``, in the chosen order.

    Invalid or unknown parameters are ignored. The curation queue reuses this to promote
    "everything matching the current filter", so it must not page. ``bounded=False``
    gives the same samples for the planner to estimate: without the id bounds of a run
    or stage that fast paging needs, and without a run its stages already imply (the
    planner would take the two as independent and divide its estimate by the runs).
    """
    filters = cleaned(params)
    samples = Sample.objects.all()
    if "samples" in filters:
        samples, only_stage = _of_phase(samples, filters["samples"], filters.get("run"))
        if only_stage and filters.setdefault("stage", only_stage) != only_stage:
            samples = samples.none()  # a stage of another kind than the one chosen
    if filters.get("stage"):
        # A stage implies its run: the run needs no id bounds of its own (two queries
        # saved), and no place in an estimate (see above).
        if bounded:
            samples = _within(samples, "stage_id", filters["stage"])
        else:
            samples = samples.filter(stage_id=_bigint(filters["stage"]))
        if bounded and "run" in filters:
            samples = samples.filter(run_id=_bigint(filters["run"]))
    elif "run" in filters:
        run = filters["run"]
        samples = (_within(samples, "run_id", run) if bounded
                   else samples.filter(run_id=_bigint(run)))
    for name, lookup in (("step_min", "step__gte"), ("step_max", "step__lte"),
                         ("reward_min", "reward__gte"), ("reward_max", "reward__lte")):
        if name in filters:
            samples = samples.filter(**{lookup: filters[name]})
    for name, field in _BOOLEAN_FILTERS.items():
        if name in filters:
            samples = samples.filter(**{field: filters[name] == "yes"})
    if "reflection" in filters:
        has = Q(reflection_count__gt=0)
        samples = samples.filter(has if filters["reflection"] == "yes" else ~has)
    if "verdict" in filters:
        samples = _with_verdict(samples, filters["verdict"])
    if "flagged" in filters:
        samples = samples.filter(pk__in=_flagged(filters["flagged"], filters.get("flag_label")))
    if "q" in filters:
        samples = _searched(samples, filters["q"])
    field, descending = SORT_FIELDS[filters.get("sort", "newest")]
    prefix = "-" if descending else ""
    return samples.order_by(f"{prefix}{field}", f"{prefix}id")


def _searched(samples: QuerySet, text: str) -> QuerySet:
    return samples.filter(Q(completion__icontains=text) | Q(prompt__icontains=text))


def _within(samples: QuerySet, field: str, value: int) -> QuerySet:
    """Filter on a run or stage, bounded by its first and last sample id.

    The planner assumes a run's samples are spread evenly through the table and may
    walk the primary key backwards from the newest sample of any run; the id bounds
    (two index seeks, ``first_and_last_ids``) make that walk start and end inside the run.
    """
    lo, hi = first_and_last_ids(field, value)
    if lo is None:
        return samples.none()
    return samples.filter(**{field: _bigint(value), "id__gte": lo, "id__lte": hi})


def first_and_last_ids(field: str, value: int) -> tuple[int | None, int | None]:
    """The first and last sample id of a run (``field`` "run_id") or a stage ("stage_id"):
    one descent of its (field, id) index each.

    Ordered LIMIT 1 queries, not MIN/MAX: for a live run, newer than the table's
    statistics, the planner expects one row and would aggregate over all of its samples.
    And the filter is a range, ``field BETWEEN v AND v``: with ``field = v`` PostgreSQL
    drops the field from the order (it is constant), and may then walk the primary key
    from the newest sample of any run, expecting this run's samples spread evenly. Behind
    a live run of 176,000 samples that read all of them, 150-230 ms for one id
    (bench/load.py). Ordered by (field, id), only the (field, id) index gives the order.
    """
    ids = Sample.objects.filter(**{f"{field}__gte": value, f"{field}__lte": value})
    ids = ids.values_list("id", flat=True)
    return ids.order_by(field, "id").first(), ids.order_by(f"-{field}", "-id").first()


def _bigint(pk) -> Cast:
    """A run or stage id as a bigint literal. Django writes ``run_id = 1``, an integer
    that PostgreSQL compares across types; the text search's trigram indexes lead with
    the run and stage (``traces/0008``), and btree_gin finds a run inside them only for a
    bigint, so a rare word is looked up in the run's samples, not in every run's."""
    return Cast(Value(int(pk)), BigIntegerField())


def _of_phase(samples: QuerySet, phase: str, run_id: int | None) -> tuple[QuerySet, int | None]:
    """Training samples, evaluations (with GRPO's probe prompts) or everything else; and
    the one stage they come from, when there is only one (a run's GRPO, say)."""
    stages = Stage.objects.filter(run_id=run_id) if run_id else Stage.objects.all()
    if phase == EVALUATION:
        evaluations = stages.filter(kind__in=EVALUATION_KINDS).values_list("pk", flat=True)
        return samples.filter(Q(stage_id__in=list(evaluations)) | Q(probe=True)), None
    if phase == TRAINING:
        stages = stages.filter(kind__in=TRAINING_KINDS)
    else:
        stages = stages.exclude(kind__in=TRAINING_KINDS + EVALUATION_KINDS)
    stage_ids = list(stages.values_list("pk", flat=True)[:1000])
    samples = samples.filter(probe=False)
    if len(stage_ids) == 1:
        return samples, stage_ids[0]
    return samples.filter(stage_id__in=stage_ids), None


def _with_verdict(samples: QuerySet, verdict: str) -> QuerySet:
    if verdict == REJECTED:
        return samples.exclude(verdict__in=("", KEPT))
    return samples.filter(verdict=verdict)


def _flagged(label: str, custom: str | None) -> QuerySet:
    flags = Flag.objects.all()
    if label != "any":
        flags = flags.filter(label=label)
    if label == FlagLabel.CUSTOM and custom:
        flags = flags.filter(custom_label__iexact=custom)
    return flags.values("sample_id")


@dataclass
class Page:
    samples: list[Sample]
    next_cursor: str | None
    # Every sample the filter matches, unpaged: ``count_samples`` counts it without
    # looking up the run's and stage's id bounds a second time.
    matching: QuerySet[Sample] | None = None
    # A text search's planner estimate of its matches, and whether its words are looked
    # up in the trigram index (``_search_by_text_index``): the count does the same.
    estimate: int | None = None
    by_text_index: bool = False
    # How long reading the page's rows took, in ms: a count through the trigram index
    # reads more than that (``count_samples``).
    read_ms: float = 0.0
    # Whether the page was found in part of the scope only (the newest epochs): then
    # ``estimate`` comes from the matches' density there.
    partly: bool = False


def sort_of(params: QueryDict) -> tuple[str, bool]:
    return SORT_FIELDS[cleaned(params).get("sort", "newest")]


def cursor_of(sample: Sample, params: QueryDict) -> str:
    field, _ = sort_of(params)
    return str(sample.pk) if field == "id" else f"{getattr(sample, field)!r}:{sample.pk}"


class _Row(Func):
    """A row value, ``(a, b)``: compared as a whole, it seeks a two-column index."""

    template = "(%(expressions)s)"
    output_field = FloatField()


def after_cursor(samples: QuerySet, params: QueryDict, cursor: str | None, *, reverse=False):
    """Samples strictly after ``cursor`` in the order of ``params`` (before, if reverse).

    ``(field, id) < (v, pk)`` as one row comparison, so the database seeks the
    (field, id) index straight to the cursor even when thousands of samples tie on v.
    """
    field, descending = sort_of(params)
    try:
        value, pk = _parse_cursor(cursor, field)
    except ValueError:
        return samples
    compare = LessThan if descending != reverse else GreaterThan
    if field == "id":
        return samples.filter(compare(F("id"), pk))
    return samples.filter(compare(_Row(F(field), F("id")), _Row(Value(value), Value(pk))))


def _parse_cursor(cursor: str | None, field: str) -> tuple[float | int | None, int]:
    """A cursor we wrote, or ValueError: a hand-made one may hold anything (a non-finite
    reward, an id no database integer holds), and it then restarts at the first page."""
    if not cursor or len(cursor) > MAX_CURSOR:
        raise ValueError("no cursor")
    if field == "id":
        return None, _bounded_int(cursor)
    raw_value, _, raw_pk = cursor.rpartition(":")
    value = _finite_float(raw_value) if field == "reward" else _bounded_int(raw_value)
    return value, _bounded_int(raw_pk)


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_ID:
        raise ValueError("out of range")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


def samples_page(params: QueryDict, size: int = PAGE_SIZE) -> Page:
    # The filter without its search, then the search: a run's id bounds are read once,
    # though a search read through the text index needs the unsearched scope too.
    unsearched = filter_samples(_without_search(params))
    text = cleaned(params).get("q")
    matching = _searched(unsearched, text) if text else unsearched
    scope = after_cursor(unsearched, params, params.get("after"))
    # The table shows each sample's stage by name: its config and results stay unread
    # (three JSON documents decoded per row otherwise).
    samples = (_searched(scope, text) if text else scope).select_related("stage").defer(
        *STAGE_BULK)
    plan = _search_plan(params, size)
    ids = _newest_ids(scope) if plan.by_text_index and sort_of(params)[0] == "id" else None
    started = time.perf_counter()
    estimate, partly = plan.matches, False
    with _text_index_only(plan.by_text_index):
        if ids:
            rows = _newest_by_epoch(samples, size + 1, *ids)
            estimate, partly = _by_density(rows, size + 1, *ids) or (estimate, False)
        else:
            rows = list(samples[: size + 1])
    read_ms = (time.perf_counter() - started) * 1000
    prefetch_related_objects(rows, "flags")
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, cursor_of(rows[-1], params) if more and rows else None, matching,
                estimate, plan.by_text_index, read_ms, partly)


STAGE_BULK = ("stage__trl_config", "stage__params", "stage__result", "stage__error")
WALK_AT_MOST = 5000  # rows a text search may test one by one (a few ms) for a page


@dataclass(frozen=True)
class SearchPlan:
    matches: int | None = None  # the planner's estimates: samples the search matches,
    rows: int = 0  # and samples the same filter matches without it
    by_text_index: bool = False


def _search_plan(params: QueryDict, size: int) -> SearchPlan:
    """Whether a text search should look its words up in the trigram index.

    Walking the chosen order's index and testing every row finds a page of a common
    word at once, but reads ``size x rows / matches`` rows; the trigram index reads the
    matches and sorts them. So the index pays when ``matches^2 < size x rows``. PostgreSQL's
    planner judges the same costs, but it knows no LIMIT will be reached late: for a rare
    word in one run of a million samples it walked 27,000 rows (38 ms) where the index
    needed 422 (3 ms). Both counts are its own estimates (an EXPLAIN each, no row read).
    Newest first, the index reads only the newest matches, an id epoch at a time
    (``_newest_by_epoch``): it pays as soon as a walk would read more than
    ``WALK_AT_MOST`` rows.
    """
    if connection.vendor != "postgresql" or not cleaned(params).get("q"):
        return SearchPlan()
    matches = _planner_rows(filter_samples(params, bounded=False).order_by())
    rows = _planner_rows(filter_samples(_without_search(params), bounded=False).order_by())
    walked = (size + 1) * rows // max(matches, 1)
    if sort_of(params)[0] == "id":  # read newest first by epoch (``_newest_by_epoch``)
        return SearchPlan(matches, rows, walked > WALK_AT_MOST)
    return SearchPlan(matches, rows, matches < walked)


def _without_search(params: QueryDict) -> QueryDict:
    params = params.copy()
    params.pop("q", None)
    return params


def _newest_ids(scope: QuerySet) -> tuple[int, int] | None:
    """The lowest and highest id of ``scope``, the page's samples before the search (read
    before the btree indexes are set aside: they find both at once)."""
    ids = scope.order_by().values_list("id", flat=True)
    low, high = ids.order_by("id").first(), ids.order_by("-id").first()
    return None if low is None else (low, high)


EPOCH = 65536  # ids per epoch: the trigram indexes hold id / EPOCH (traces/0009)
EPOCHS_ONE_BY_ONE = 4  # then the rest of the scope in one read


class _Epoch(Func):
    """A sample's id epoch, written exactly as the trigram indexes hold it."""

    template = "(%(expressions)s / %(size)d)"
    output_field = BigIntegerField()

    def __init__(self, expression, size: int) -> None:
        super().__init__(expression, size=size)


def _newest_by_epoch(samples: QuerySet, wanted: int, low: int, high: int) -> list[Sample]:
    """The ``wanted`` newest of ``samples`` (newest first) that a rare word matches, in
    the scope of ids ``low..high``.

    The trigram index finds every match of the run at once, and PostgreSQL rechecks each
    in the table before it applies an id bound: 3,986 samples read (24 ms) for a word in
    one sample of 500 of a 2M-sample run, to show 51. The indexes also hold each id's
    epoch (traces/0009), so the newest epochs are asked one at a time (1.6 ms for that
    word's newest 64), then, past a few, the rest of the scope at once: the rows are
    those the whole read would give.
    """
    rows: list[Sample] = []
    epoch, oldest = high // EPOCH, low // EPOCH
    for _ in range(EPOCHS_ONE_BY_ONE):
        if epoch < oldest or len(rows) == wanted:
            return rows
        in_epoch = samples.alias(epoch=_Epoch(F("id"), EPOCH)).filter(epoch=_bigint(epoch))
        rows += in_epoch[: wanted - len(rows)]
        epoch -= 1
    if epoch >= oldest and len(rows) < wanted:
        rows += samples.filter(id__lt=(epoch + 1) * EPOCH)[: wanted - len(rows)]
    return rows


def _by_density(rows: list[Sample], wanted: int, low: int, high: int) -> tuple[int, bool] | None:
    """When a full page was found in part of a scope wider than an epoch: the scope's
    matches estimated from their density in the ids read (closer than the planner's
    estimate, which has no statistics for long texts), and True (an exact count would
    read every match of the scope through the index). None otherwise."""
    if len(rows) < wanted or high - low < EPOCH:
        return None
    read = high - rows[-1].pk + 1
    return max(wanted, round(wanted * (high - low + 1) / read)), True


@contextlib.contextmanager
def _text_index_only(on: bool) -> Iterator[None]:
    """The queries inside read no btree index row by row (``enable_indexscan`` off, for
    this transaction only): the planner then finds matches through the trigram index."""
    if not on:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('enable_indexscan', 'off', true)")
        yield


@dataclass(frozen=True)
class Total:
    """How many samples a filter matches: exact, a planner's estimate, or a lower bound."""

    value: int
    exact: bool = True
    at_least: bool = False


EXACT_UP_TO = 5000  # more than this is estimated, never counted row by row
ESTIMATE_ABOVE = 10 * EXACT_UP_TO  # a planner's estimate past this is not even checked
COUNT_BUDGET_MS = 10  # an exact count that takes longer gives way to the estimate


def count_samples(params: QueryDict, page: Page) -> Total:
    """The number of samples matching ``params``, counted exactly only while that is cheap.

    A first page with nothing after it is the whole answer. Otherwise at most
    ``EXACT_UP_TO + 1`` rows are counted, on PostgreSQL only when its planner expects a
    modest number and only for ``COUNT_BUDGET_MS``; past that, the planner's estimate is
    the answer (instant on any table, though it can be off). Other databases (the
    embedded SQLite) count up to the limit and say "more than".
    """
    if not params.get("after") and page.next_cursor is None:
        return Total(len(page.samples))
    matching = page.matching if page.matching is not None else filter_samples(params)
    matching = matching.order_by()[: EXACT_UP_TO + 1]
    if connection.vendor != "postgresql":
        return _capped(matching.count())
    estimate = page.estimate
    if estimate is None:
        estimate = _planner_rows(filter_samples(params, bounded=False).order_by())
    # Counted through the trigram index, every match is a page of the table read: past
    # EXACT_UP_TO expected, that cannot end within the budget.
    largest = EXACT_UP_TO if page.by_text_index else ESTIMATE_ABOVE
    # Counting through the trigram index reads every match the page read, and more: when
    # the page alone took the whole budget, or was found in the newest epochs of a scope
    # that holds many more, the count would only be cancelled.
    futile = page.by_text_index and (page.read_ms > COUNT_BUDGET_MS or page.partly)
    if estimate <= largest and not futile:
        with _text_index_only(page.by_text_index):
            counted = _count_within(matching, COUNT_BUDGET_MS)
        if counted is not None:
            return _capped(counted, estimate)
    return Total(max(estimate, len(page.samples) + 1), exact=False)


def _capped(counted: int, estimate: int = 0) -> Total:
    if counted <= EXACT_UP_TO:
        return Total(counted)
    if estimate > EXACT_UP_TO:
        return Total(estimate, exact=False)
    return Total(EXACT_UP_TO, exact=False, at_least=True)  # the estimate is below the count


def _count_within(samples: QuerySet, budget_ms: int) -> int | None:
    """``samples.count()``, or None if PostgreSQL needs longer than ``budget_ms`` for it."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)",
                               [f"{budget_ms}ms"])
            counted = samples.count()
            # Rolled back (it wrote nothing): the timeout ends with this transaction or
            # savepoint, and never limits the queries that follow it.
            transaction.set_rollback(True)
            return counted
    except OperationalError:  # cancelled by the timeout
        return None


def _planner_rows(samples: QuerySet) -> int:
    try:
        plan = json.loads(samples.values("id").explain(format="json"))
    except EmptyResultSet:  # a filter Django knows matches nothing (no stage of a kind)
        return 0
    return int(plan[0]["Plan"]["Plan Rows"])


def neighbours(params: QueryDict, sample: Sample) -> tuple[Sample | None, Sample | None]:
    """The previous and next sample around ``sample`` in the browser's current order."""
    samples = filter_samples(params).only("id")
    cursor = cursor_of(sample, params)
    following = after_cursor(samples, params, cursor).first()
    preceding = after_cursor(samples.reverse(), params, cursor, reverse=True).first()
    return preceding, following


def get_sample_for_user(request, pk: int) -> Sample:
    """Every signed-in user may read every sample; flags check roles in the view."""
    return get_object_or_404(Sample.objects.select_related("run", "stage"), pk=pk)


def sample_flags(sample: Sample, user) -> list[Flag]:
    """The sample's flags, oldest first, each with ``removable``: whether ``user`` may
    remove it (``Flag.removable_by``, the rule the service applies)."""
    role = role_of(user)
    flags = list(sample.flags.select_related("created_by").order_by("created_at"))
    for flag in flags:
        flag.removable = flag.removable_by(user.pk, role)
    return flags


def group_samples(stage_id: int, step: int, group: int) -> list[Sample]:
    """The G completions of one prompt at one step, as GRPO compared them."""
    return list(
        Sample.objects.filter(stage_id=stage_id, step=step, group=group, probe=False)
        .select_related("run", "stage")
        .prefetch_related("flags")
        .order_by("index")
    )


def evolution_samples(run: Run, example_key: str, limit: int = 500) -> list[Sample]:
    """One prompt's completions across the steps of a run, oldest step first."""
    stage_ids = list(run.stages.values_list("pk", flat=True))
    return list(
        Sample.objects.filter(stage_id__in=stage_ids, example_key=example_key)
        .select_related("stage")
        .order_by("stage__position", "step", "probe", "group", "index")[:limit]
    )


def probe_prompts(run: Run, limit: int = 64) -> list[tuple[str, str]]:
    """(example key, prompt) of each probe prompt of a run, in the order of the set."""
    firsts = (Sample.objects.filter(run=run, probe=True).values("example_key")
              .annotate(first=Min("id")).order_by("first").values_list("first", flat=True))
    rows = Sample.objects.filter(pk__in=list(firsts[:limit])).order_by("id")
    return list(rows.values_list("example_key", "prompt"))


def reward_names(samples: list[Sample]) -> list[str]:
    return sorted({name for sample in samples for name in sample.rewards})


def run_choices() -> list[tuple[int, str]]:
    return list(Run.objects.order_by("-created_at").values_list("pk", "name")[:200])


def stage_choices(run_id: int | None) -> list[tuple[int, str]]:
    if not run_id:
        return []
    return list(Stage.objects.filter(run_id=run_id).order_by("position").values_list("pk", "name"))
