"""Reads for the trace browser: filtering, keyset paging, groups and evolutions.

Paging is by keyset (``after=<sort value>:<id>``), never OFFSET: a deep page costs the
same as the first one over millions of samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import F, FloatField, Func, Max, Min, Q, QuerySet, Value
from django.db.models.lookups import GreaterThan, LessThan
from django.http import QueryDict
from django.shortcuts import get_object_or_404

from r1web.runs.models import Run
from r1web.traces.forms import MAX_ID, REJECTED, cleaned
from r1web.traces.models import Flag, FlagLabel, Sample
from workers.domain.rejection import KEPT

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


def filter_samples(params: QueryDict) -> QuerySet[Sample]:
    """Every sample matching the browser's filters in ``params``, in the chosen order.

    Invalid or unknown parameters are ignored. The curation queue reuses this to promote
    "everything matching the current filter", so it must not page.
    """
    filters = cleaned(params)
    samples = Sample.objects.all()
    for name, field in (("run", "run_id"), ("stage", "stage_id")):
        if name in filters:
            samples = _within(samples, field, filters[name])
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
        samples = samples.filter(Q(completion__icontains=filters["q"]) | Q(prompt__icontains=filters["q"]))
    field, descending = SORT_FIELDS[filters.get("sort", "newest")]
    prefix = "-" if descending else ""
    return samples.order_by(f"{prefix}{field}", f"{prefix}id")


def _within(samples: QuerySet, field: str, value: int) -> QuerySet:
    """Filter on a run or stage, bounded by its first and last sample id.

    The planner assumes a run's samples are spread evenly through the table and may
    walk the primary key backwards from the newest sample of any run; the id bounds
    (two index seeks) make that walk start and end inside the run.
    """
    span = Sample.objects.filter(**{field: value}).aggregate(lo=Min("id"), hi=Max("id"))
    if span["lo"] is None:
        return samples.none()
    return samples.filter(**{field: value, "id__gte": span["lo"], "id__lte": span["hi"]})


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
    samples = after_cursor(filter_samples(params), params, params.get("after"))
    rows = list(
        samples.select_related("stage").prefetch_related("flags")[: size + 1]
    )
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, cursor_of(rows[-1], params) if more and rows else None)


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


def sample_flags(sample: Sample) -> list[Flag]:
    return list(sample.flags.select_related("created_by").order_by("created_at"))


def group_samples(stage_id: int, step: int, group: int) -> list[Sample]:
    """The G completions of one prompt at one step, as GRPO compared them."""
    return list(
        Sample.objects.filter(stage_id=stage_id, step=step, group=group)
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
        .order_by("stage__position", "step", "group", "index")[:limit]
    )


def reward_names(samples: list[Sample]) -> list[str]:
    return sorted({name for sample in samples for name in sample.rewards})


def run_choices() -> list[tuple[int, str]]:
    return list(Run.objects.order_by("-created_at").values_list("pk", "name")[:200])


def stage_choices(run_id: int | None) -> list[tuple[int, str]]:
    if not run_id:
        return []
    from r1web.runs.models import Stage

    return list(Stage.objects.filter(run_id=run_id).order_by("position").values_list("pk", "name"))
