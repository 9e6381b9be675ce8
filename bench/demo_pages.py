"""Server time of every page a demo user reaches, with 200,000 samples stored.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/demopages .venv/bin/python bench/demo_pages.py

Seeds an empty PostgreSQL database once with what ``make demo`` leaves behind, scaled up
(``bench/demo_state.py``), then times each page and its common views in-process through
Django's test client signed in as an operator (middleware, session and templates
included). It prints median, p95 and minimum wall time, median CPU time and the query
count per page (on a shared machine the minimum is the steadiest figure to compare),
ending with ``max_p95_ms pages=<x> (<worst page>) download=<y>``. Target: every page
<= 300 ms. The CSV download (every metric point and a scan of the samples' per-step
statistics, timed to its last byte) is a file, not a page: it is reported apart.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")

from bench.demo_state import DEMO_RUN, OPERATOR, SMALL_RUNS, seed

HTMX = {"HX-Request": "true"}
DOWNLOAD = "metrics.csv (download)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page")
    parser.add_argument("--samples", type=int, default=200_000, help="samples to seed")
    parser.add_argument("--only", default="", help="time only the pages whose name has this")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/demo_pages.py needs PostgreSQL: set DATABASE_URL to an empty database, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/demopages "
            ".venv/bin/python bench/demo_pages.py\n"
            "(it refuses to seed 200,000 samples into the embedded SQLite file)"
        )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed(args.samples)
    measure(args.repeat, args.only)


# --- measuring ----------------------------------------------------------------------


def pages() -> dict[str, tuple[str, dict, dict]]:
    """Page name -> (url, query, headers), every page of the demo and its common views."""
    from django.urls import reverse

    from r1web.curation.models import CurationItem
    from r1web.datasets.models import DatasetVersion, Example
    from r1web.runs.models import Checkpoint, Run
    from r1web.traces.models import Sample

    demo = Run.objects.get(name=DEMO_RUN)
    small = list(Run.objects.filter(name__in=SMALL_RUNS).order_by("pk"))
    stages = {stage.key: stage for stage in demo.stages.all()}
    grpo = stages["grpo"]
    sample = Sample.objects.filter(stage=grpo, probe=False, reflection_count__gt=0).order_by("-id")[
        10
    ]
    second_page = (
        Sample.objects.filter(run=demo, probe=False)
        .order_by("-id")
        .values_list("id", flat=True)[50]
    )
    probe = Sample.objects.filter(run=demo, probe=True).order_by("example_key").first()
    item = CurationItem.objects.filter(dataset__name="cold-start").order_by("-pk").first()
    decided = CurationItem.objects.filter(dataset__name="cold-start", status="accepted").first()
    synthetic = DatasetVersion.objects.filter(dataset__name="synthetic").latest("number")
    example = Example.objects.filter(version=synthetic).order_by("position")[5]
    checkpoint = Checkpoint.objects.get(pk=grpo.output_checkpoint_id)
    run_url = reverse("runs:detail", args=[demo.pk])
    charts = reverse("runs:chart_data", args=[demo.pk])
    traces = reverse("traces:list")
    compared = ",".join(str(run.pk) for run in small)
    steps = grpo.total_steps
    return {
        "runs list": (reverse("runs:list"), {}, {}),
        "runs list, page 2": (reverse("runs:list"), {"page": 2}, {}),
        "runs list, filtered + sorted": (
            reverse("runs:list"),
            {
                "status": "succeeded",
                "recipe": "r1-zero",
                "person": OPERATOR,
                "sort": "-duration",
            },
            {},
        ),
        "runs list, htmx table": (reverse("runs:list"), {"sort": "status"}, HTMX),
        "run page": (run_url, {}, {}),
        "run page, compared": (run_url, {"compare": compared}, {}),
        "run page, htmx stages (poll)": (run_url, {}, HTMX),
        "charts.json": (charts, {}, {}),
        "charts.json, zoomed": (charts, {"x0": steps // 4, "x1": steps // 2}, {}),
        "charts.json, compared": (charts, {"compare": compared}, {}),
        "charts.json, GRPO stage": (charts, {"stage": "grpo"}, {}),
        DOWNLOAD: (reverse("runs:metrics_csv", args=[demo.pk]), {}, {}),
        "stage: evaluate base": (
            reverse("runs:stage", args=[stages["eval-base"].pk]),
            {},
            {},
        ),
        "stage: GRPO": (reverse("runs:stage", args=[grpo.pk]), {}, {}),
        "stage: GRPO, htmx progress": (reverse("runs:stage", args=[grpo.pk]), {}, HTMX),
        "stage: evaluate trained": (
            reverse("runs:stage", args=[stages["eval-grpo"].pk]),
            {},
            {},
        ),
        "checkpoint": (reverse("runs:checkpoint", args=[checkpoint.pk]), {}, {}),
        "compare": (
            reverse("runs:compare"),
            {"runs": [demo.pk, *(r.pk for r in small)]},
            {},
        ),
        "launch: recipes": (reverse("runs:new"), {}, {}),
        "launch: r1-zero form": (reverse("runs:launch", args=["r1-zero"]), {}, {}),
        "traces: default view": (traces, {}, {}),
        "traces: htmx results": (traces, {"run": demo.pk}, HTMX),
        "traces: all runs": (traces, {"run": "", "stage": ""}, {}),
        "traces: demo run, page 2": (
            traces,
            {"run": demo.pk, "after": second_page},
            {},
        ),
        "traces: correct + reflection": (
            traces,
            {"run": demo.pk, "correct": "yes", "reflection": "yes"},
            {},
        ),
        "traces: reward sort": (traces, {"run": demo.pk, "sort": "-reward"}, {}),
        "traces: text search": (traces, {"run": demo.pk, "q": "double-check"}, {}),
        "traces: flagged aha": (traces, {"flagged": "aha"}, {}),
        "traces: eval stage": (
            traces,
            {"run": demo.pk, "stage": stages["eval-grpo"].pk},
            {},
        ),
        "traces: step range": (
            traces,
            {
                "run": demo.pk,
                "step_min": steps // 2,
                "step_max": steps // 2 + 5,
                "sort": "step",
            },
            {},
        ),
        "sample page": (
            reverse("traces:sample", args=[sample.pk]),
            {"run": demo.pk},
            {},
        ),
        "sample panel (htmx)": (
            reverse("traces:sample", args=[sample.pk]),
            {"run": demo.pk},
            HTMX,
        ),
        "group view": (
            reverse("traces:group", args=[grpo.pk, sample.step, sample.group]),
            {},
            {},
        ),
        "evolution: probes": (reverse("traces:evolution", args=[demo.pk]), {}, {}),
        "evolution: one probe": (
            reverse("traces:evolution", args=[demo.pk]),
            {"key": probe.example_key},
            {},
        ),
        "curation index": (reverse("curation:index"), {}, {}),
        "curation queue": (reverse("curation:queue", args=["cold-start"]), {}, {}),
        "curation item (pending)": (reverse("curation:item", args=[item.pk]), {}, {}),
        "curation item (accepted)": (
            reverse("curation:item", args=[decided.pk]),
            {},
            {},
        ),
        "datasets list": (reverse("datasets:list"), {}, {}),
        "dataset: synthetic": (reverse("datasets:detail", args=["synthetic"]), {}, {}),
        "dataset: cold-start": (
            reverse("datasets:detail", args=["cold-start"]),
            {},
            {},
        ),
        "version: synthetic": (
            reverse("datasets:version", args=["synthetic", synthetic.number]),
            {},
            {},
        ),
        "version: cold-start v2": (
            reverse("datasets:version", args=["cold-start", 2]),
            {},
            {},
        ),
        "version diff": (
            reverse("datasets:diff", args=["cold-start"]),
            {"old": 1, "new": 2},
            {},
        ),
        "example": (reverse("datasets:example", args=[example.pk]), {}, {}),
        "audit": (reverse("audit:list"), {}, {}),
        "API tokens": (reverse("ingest:tokens"), {}, {}),
    }


def measure(repeat: int, only: str) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=OPERATOR))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'page':34s} {'median':>8s} {'p95':>8s} {'min':>8s} {'cpu':>8s} {'queries':>7s}")
    worst, download = ("", 0.0), 0.0
    for name, (url, query, headers) in pages().items():
        if only and only not in name:
            continue
        queries = [0]
        with connection.execute_wrapper(partial(_count, queries)):
            _get(client, name, url, query, headers)
        for _ in range(2):
            _get(client, name, url, query, headers)
        wall, cpu = [], []
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            _get(client, name, url, query, headers)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        p95 = _p95(wall)
        if name == DOWNLOAD:
            download = p95
        else:
            worst = max(worst, (name, p95), key=lambda pair: pair[1])
        print(
            f"{name:34s} {statistics.median(wall):6.1f}ms {p95:6.1f}ms {min(wall):6.1f}ms "
            f"{statistics.median(cpu):6.1f}ms {queries[0]:7d}"
        )
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"max_p95_ms pages={worst[1]:.1f} ({worst[0]}) download={download:.1f}")


def _count(queries: list[int], execute, sql, params, many, context):
    queries[0] += 1
    return execute(sql, params, many, context)


def _get(client, name: str, url: str, query: dict, headers: dict) -> None:
    from django.core.cache import cache

    cache.clear()  # run figures are cached until the next write: time them being built
    response = client.get(url, query, headers=headers)
    # 286: htmx's "stop polling", a finished run's answer to its poll
    assert response.status_code in (200, 286), (name, response.status_code)
    if response.streaming:
        b"".join(response.streaming_content)


def _p95(times: list[float]) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, round(0.95 * len(times)) - 1)]


if __name__ == "__main__":
    main()
