"""Latency of the trace browser and the run charts over millions of samples.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/trace_browser.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench10m .venv/bin/python bench/trace_browser.py --samples 10000000

Seeds PostgreSQL once per size (COPY, not the ORM; a marker run says it is done) with
``--samples`` samples (default 1,000,000) over several runs and a 1,000,000-point metric series, then times the views
in-process through Django's test client (middleware, session and templates included)
and prints median and p95 per case, ending with ``p95_ms pages=<x> chart=<y>``.
Targets: pages p95 <= 50 ms, chart <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")

MARKER = "bench: seeded v3"  # + the sample count; v3: per-step sample statistics
RUNS = 5
GROUPS, G = 10, 8  # prompts per step, completions per prompt
METRIC_POINTS = 1_000_000
PHRASES = ["wait", "recheck", "however", "alternatively", "double-check", "try again"]
COLUMNS = ["run_id", "stage_id", "step", '"group"', "index", "example_key", "prompt", "completion", "think", "answer", "reference", "rewards", "reward", "advantage", "length_tokens", "correct", "format_ok", "reflection_phrases", "reflection_count", "created_at"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40, help="timed requests per case")
    parser.add_argument("--samples", type=int, default=1_000_000, help="samples to seed")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/trace_browser.py needs PostgreSQL: set DATABASE_URL, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/trace_browser.py\n"
            "(it refuses to seed a million samples into the embedded SQLite file)"
        )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed(args.samples)
    measure(args.repeat)


# --- seeding ------------------------------------------------------------------------

def seed(samples: int) -> None:
    from django.db import connection, transaction

    from r1web.runs.models import Run

    if Run.objects.filter(name=f"{MARKER} {samples}").exists():
        print("seed: already seeded, reusing it")
        return
    started = time.perf_counter()
    _drop_old_seed()
    with transaction.atomic():  # a failed seed leaves nothing half-written behind
        _seed(started, samples)
    with connection.cursor() as cursor:
        for table in ("traces_sample", "runs_metricpoint", "runs_metricrollup", "traces_flag"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"seed: done in {time.perf_counter() - started:.0f}s")


def _seed(started: float, samples: int) -> None:
    from django.db import connection

    from r1web.runs import rollups
    from r1web.runs.models import Run

    runs = _runs()
    # Secondary indexes are rebuilt once after the COPY: maintaining sixteen of them row by
    # row makes a 10M-row seed take hours instead of minutes.
    indexes = _secondary_indexes()
    statistics = _index_statistics(indexes)
    with connection.cursor() as cursor:
        for name in indexes:
            cursor.execute(f"DROP INDEX {name}")
    per_run = samples // len(runs)
    for number, (run, stage) in enumerate(runs):
        _copy_samples(run.pk, stage.pk, per_run, seed=number)
        # The write path keeps per-step sample statistics for the run pages; COPY does not.
        rollups.sample_steps_refresh(stage_pk=stage.pk)
        print(f"seed: {per_run:,} samples for {run.name} ({time.perf_counter() - started:.0f}s)")
    _copy_metric_series()
    print(f"seed: {METRIC_POINTS:,} metric points ({time.perf_counter() - started:.0f}s)")
    _flags(runs[0][0])
    with connection.cursor() as cursor:
        # Django's foreign keys are deferred; check them now so the index can be built.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for definition in indexes.values():
            cursor.execute(definition)
        for statement in statistics:
            cursor.execute(statement)
        print(f"seed: {len(indexes)} indexes rebuilt ({time.perf_counter() - started:.0f}s)")
    Run.objects.create(name=f"{MARKER} {samples}", recipe="custom", status="succeeded")


def _secondary_indexes() -> dict[str, str]:
    """Name -> CREATE INDEX statement of every index on the sample table that no
    constraint owns (the primary key and the position's unique constraint stay)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'traces_sample' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        return dict(cursor.fetchall())


def _index_statistics(names) -> list[str]:
    """The statistics targets the migrations set on index columns (``traces/0007``,
    ``0008``), as statements to apply again once the indexes are rebuilt."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attnum, a.attstattarget FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relname = ANY(%s) AND COALESCE(a.attstattarget, -1) > 0",
            [list(names)],
        )
        return [f"ALTER INDEX {name} ALTER COLUMN {column} SET STATISTICS {target}"
                for name, column, target in cursor.fetchall()]


def _drop_old_seed() -> None:
    """Remove an earlier (older or unfinished) seed with plain SQL: the ORM's cascade
    would load a million rows first."""
    from django.db import connection

    bench_runs = "SELECT id FROM runs_run WHERE name LIKE 'bench%'"
    bench_stages = f"SELECT id FROM runs_stage WHERE run_id IN ({bench_runs})"
    with connection.cursor() as cursor:
        for sql in (
            f"DELETE FROM traces_flag WHERE run_id IN ({bench_runs})",
            f"DELETE FROM traces_sample WHERE run_id IN ({bench_runs})",
            f"DELETE FROM runs_metricrollup WHERE stage_id IN ({bench_stages})",
            f"DELETE FROM runs_metricpoint WHERE stage_id IN ({bench_stages})",
            f"DELETE FROM runs_stage WHERE run_id IN ({bench_runs})",
            "DELETE FROM runs_run WHERE name LIKE 'bench%'",
        ):
            cursor.execute(sql)


def _runs():
    from r1web.runs.models import Recipe, Run, Stage, StageKind, Status

    made = []
    for number in range(RUNS):
        run = Run.objects.create(name=f"bench run {number}", recipe=Recipe.R1_ZERO, status=Status.SUCCEEDED)
        stage = Stage.objects.create(run=run, position=0, name="GRPO", kind=StageKind.GRPO,
                                     status=Status.SUCCEEDED)
        made.append((run, stage))
    return made


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _copy_samples(run_id: int, stage_id: int, count: int, seed: int) -> None:
    from django.db import connection

    rng = random.Random(seed)
    steps = count // (GROUPS * G)
    lines: list[str] = []
    extra_columns, extra_values = _defaulted_columns()
    sql = f"COPY traces_sample ({', '.join(COLUMNS + extra_columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for step in range(1, steps + 1):
            reflect_p = 0.08 + 0.4 * step / steps  # reflection grows with training
            for group in range(GROUPS):
                a, b = rng.randint(2, 999), rng.randint(2, 999)
                prompt = _escape(f"What is {a} + {b}? Answer with a number. (problem {a}-{b})")
                for index in range(G):
                    line = _sample_line(rng, run_id, stage_id, step, group, index, a, b, prompt, reflect_p)
                    lines.append(line + extra_values)
            if len(lines) >= 20_000:
                copy.write("".join(lines))
                lines.clear()
        copy.write("".join(lines))


def _sample_line(rng, run_id, stage_id, step, group, index, a, b, prompt, reflect_p) -> str:
    correct = rng.random() < 0.3 + 0.5 * (step % 1000) / 1000
    answer = a + b if correct else a + b + rng.randint(1, 9)
    phrases = rng.sample(PHRASES, rng.randint(1, 2)) if rng.random() < reflect_p else []
    if rng.random() < 0.002:
        phrases.append("reconsider")  # rare: the text search's hard case
    middle = " ".join(f"{p.capitalize()}, let me look at it again." for p in phrases)
    think = f"I add {a} and {b}. Units first, then tens. {middle} The sum is {answer}."
    completion = f"<think>{think}</think>\n<answer>{answer}</answer>"
    format_ok = rng.random() < 0.9
    reward = float(correct) + float(format_ok)
    fields = (
        run_id, stage_id, step, group, index, f"synthetic:{(a * 1000 + b) % 5000}", prompt,
        _escape(completion), _escape(think), answer, a + b,
        json.dumps({"accuracy": float(correct), "format": float(format_ok)}), reward,
        round(rng.gauss(0, 1), 4), 40 + len(think) // 4 + rng.randint(0, 30 + step // 20),
        "t" if correct else "f", "t" if format_ok else "f", json.dumps(phrases), len(phrases),
        "2025-01-01 00:00:00+00",
    )
    return "\t".join(map(str, fields))


def _defaulted_columns() -> tuple[list[str], str]:
    """The sample columns this seed does not set (verdicts, judges, ...) and the
    COPY text of their model defaults, so the seed keeps up with new fields."""
    from r1web.traces.models import Sample

    columns, values = [], []
    for field in Sample._meta.concrete_fields:
        if field.primary_key or field.column in {c.strip('"') for c in COLUMNS}:
            continue
        value = field.get_default()
        columns.append(f'"{field.column}"')
        if value is None:
            values.append("\\N")
        elif isinstance(value, bool):
            values.append("t" if value else "f")
        elif isinstance(value, (dict, list)):
            values.append(_escape(json.dumps(value)))
        else:
            values.append(_escape(str(value)))
    return columns, "".join("\t" + v for v in values) + "\n"


def _copy_metric_series() -> None:
    from django.db import connection

    from r1web.runs import rollups
    from r1web.runs.models import Recipe, Run, Stage, StageKind, Status

    run = Run.objects.create(name="bench long series", recipe=Recipe.R1_ZERO, status=Status.SUCCEEDED)
    stage = Stage.objects.create(run=run, position=0, name="GRPO", kind=StageKind.GRPO,
                                 status=Status.SUCCEEDED)
    rng = random.Random(7)
    copying = "COPY runs_metricpoint (stage_id, key, step, value) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(copying) as copy:
        chunk = []
        for step in range(METRIC_POINTS):
            loss = 1.0 / (1 + step / 1e5) + rng.gauss(0, 0.02)
            chunk.append(f"{stage.pk}\tloss\t{step}\t{loss:.5f}\n")
            if len(chunk) == 50_000:
                copy.write("".join(chunk))
                chunk.clear()
        copy.write("".join(chunk))
    # Workers write through metrics_record, which keeps the summaries; COPY does not.
    rollups.rebuild(stage_pk=stage.pk)


def _flags(run) -> None:
    from django.contrib.auth import get_user_model

    from r1web.traces.models import Flag, Sample

    user, _ = get_user_model().objects.get_or_create(username="bench-curator")
    rng = random.Random(3)
    reflecting = Sample.objects.filter(run=run, reflection_count__gt=0).order_by("id")
    ids = list(reflecting.values_list("id", "step")[:194_000])[::97]
    labels = ["reflection", "aha", "not_reflection"]
    Flag.objects.bulk_create(
        Flag(sample_id=pk, run=run, step=step, label=rng.choice(labels), created_by=user) for pk, step in ids
    )


# --- measuring ----------------------------------------------------------------------

def measure(repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from r1web.accounts.roles import role_grant
    from r1web.runs.models import Run
    from r1web.traces.models import Sample

    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    role_grant(user=user, role="viewer")
    client = Client()
    client.force_login(user)
    run = Run.objects.get(name="bench run 0")
    series_run = Run.objects.get(name="bench long series")
    oldest = Sample.objects.filter(run=run).order_by("id").values_list("id", flat=True)[200]
    deep = int(0.95 * Sample.objects.filter(run=run).count())  # 95% of the way down
    deep_reward = Sample.objects.filter(run=run).order_by("-reward", "-id").values_list("reward", "id")[deep]
    traces = reverse("traces:list")
    pages = {
        "first page": {},
        "one run": {"run": run.pk},
        "reward range": {"run": run.pk, "reward_min": 1.5, "reward_max": 2},
        "correct + reflection": {"correct": "yes", "reflection": "yes"},
        "text search (common)": {"q": "double-check"},
        "text search (rare)": {"run": run.pk, "q": "reconsider"},
        "step range": {"run": run.pk, "step_min": 1200, "step_max": 1210, "sort": "step"},
        "flagged aha": {"flagged": "aha"},
        "deep keyset page": {"run": run.pk, "after": oldest},
        "deep keyset, reward sort": {"run": run.pk, "sort": "-reward", "after": f"{deep_reward[0]!r}:{deep_reward[1]}"},
    }
    p95s = []
    for name, params in pages.items():
        p95s.append(_time(client, name, traces, params, repeat))
    chart_url = reverse("runs:chart_data", args=[series_run.pk])
    chart = _time(client, "chart 1M points", chart_url, {}, repeat)
    _time(client, "chart 1M points, polled again", chart_url, {}, repeat, cached=True)
    _time(client, "chart 1M points, zoomed", chart_url, {"x0": 250_000, "x1": 750_000}, repeat)
    size = f"{Sample.objects.filter(run=run).count() // 1000:,}k-sample run"
    _time(client, f"chart of a {size}", reverse("runs:chart_data", args=[run.pk]), {}, max(5, repeat // 4))
    # Target: a run's page under 300 ms however many samples it stored.
    _time(client, f"run page of a {size}", reverse("runs:detail", args=[run.pk]), {}, max(5, repeat // 4))
    _time(client, "runs list", reverse("runs:list"), {}, max(5, repeat // 4))
    print(f"p95_ms pages={max(p95s):.1f} chart={chart:.1f}")


def _time(client, name: str, url: str, params: dict, repeat: int, cached: bool = False) -> float:
    """p95 ms of ``repeat`` requests. Run figures are cached until the data behind them
    changes (``runs.chart_cache``): unless ``cached``, each request finds the cache empty,
    as the first viewer after a write does."""
    from django.core.cache import cache

    for _ in range(3):
        response = client.get(url, params)
        assert response.status_code == 200, (name, response.status_code)
    times = []
    for _ in range(repeat):
        if not cached:
            cache.clear()
        started = time.perf_counter()
        client.get(url, params)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    print(f"{name:32s} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms")
    return p95


if __name__ == "__main__":
    main()
