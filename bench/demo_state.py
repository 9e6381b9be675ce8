"""A demo-like state in PostgreSQL, for ``bench/demo_pages.py``: what ``make demo`` leaves
behind, scaled up to a sample count.

The R1-Zero demo run (evaluate base -> GRPO -> evaluate trained, eval results, checkpoints,
every metric TRL logs, probe answers, flags), two smaller runs to compare it with, a page
and a half of other runs, the demo datasets, and a cold-start curation queue with decided
items and two frozen versions. Samples and metrics go in by COPY (``bench/trace_browser.py``
and ``bench/load_data.py``'s helpers); a marker run says the seed is done. It refuses a
database holding runs it did not make.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta
from unittest import mock

MARKER = "demo pages: seeded v2"  # + the sample count
DEMO_RUN = "R1-Zero demo"
SMALL_RUNS = ("R1-Zero lr 3e-6", "R1-Zero beta 0.04")
OTHER_RUNS = 30  # one page of the list and then some
EVAL_SAMPLES = 800  # 100 held-out problems, k = 8
PROBES, PROBE_EVERY = 4, 10
CANDIDATES = 300
OPERATOR = "bench-operator"


def seed(samples: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from r1web.runs.models import Run

    if Run.objects.filter(name=f"{MARKER} {samples}").exists():
        print("seed: already seeded, reusing it")
        return
    if (
        Run.objects.exclude(name__startswith="demo pages:").exists()
        and not Run.objects.filter(name__startswith="demo pages:").exists()
    ):
        sys.exit("seed: this database holds runs this bench did not make; give it an empty one")
    call_command("flush", interactive=False, verbosity=0)  # an older or unfinished seed
    started = time.perf_counter()
    with transaction.atomic(), mock.patch("r1web.celery.app.send_task"):  # no worker
        _seed(started, samples)
    with connection.cursor() as cursor:
        for table in (
            "traces_sample",
            "runs_metricpoint",
            "runs_metricrollup",
            "traces_flag",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"seed: done in {time.perf_counter() - started:.0f}s")


def _seed(started: float, samples: int) -> None:
    from r1web.runs.models import Recipe, Run

    users = _users()
    base = _base_checkpoint()
    small = max(samples // 40, 800)
    demo_samples = samples - 2 * small - 2 * EVAL_SAMPLES
    demo = _r1_zero_run(DEMO_RUN, base, users["operator"], demo_samples, seed=0)
    print(
        f"seed: {demo_samples:,} GRPO samples in {DEMO_RUN} ({time.perf_counter() - started:.0f}s)"
    )
    for number, name in enumerate(SMALL_RUNS, start=1):
        _r1_zero_run(name, base, users["alice"], small - 2 * EVAL_SAMPLES, seed=number)
    _other_runs(users)
    _flags(demo)
    _curation(demo, users)
    print(f"seed: runs, flags and curation ({time.perf_counter() - started:.0f}s)")
    Run.objects.create(name=f"{MARKER} {samples}", recipe=Recipe.CUSTOM, status="succeeded")


def _users() -> dict:
    from django.contrib.auth import get_user_model

    from r1web.accounts.roles import role_grant

    made = {}
    for name, role in (
        ("operator", "operator"),
        ("alice", "operator"),
        ("bob", "curator"),
    ):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{name}")
        role_grant(user=user, role=role)
        made[name] = user
    return made


def _base_checkpoint():
    from r1web.runs.models import Checkpoint

    return Checkpoint.objects.create(name="tiny-base", path="/bench/demo-pages/tiny-base")


def _r1_zero_run(name: str, base, user, grpo_samples: int, seed: int):
    """The demo recipe's run as a finished worker leaves it (stages, results, samples,
    metrics, checkpoints, probes), written without a worker."""
    from django.utils import timezone

    from bench.load_data import _copy_metrics
    from bench.trace_browser import GROUPS, G, _copy_samples
    from r1web.runs import rollups
    from r1web.runs.models import Checkpoint, Run, Stage, Status
    from r1web.runs.recipes import launch

    steps = grpo_samples // (GROUPS * G)
    run = launch(
        "r1-zero",
        {
            "name": name,
            "model": str(base.pk),
            "max_steps": steps,
            "eval_k": 8,
            "eval_limit": 100,
        },
        user=user,
    )
    stages = {stage.key: stage for stage in run.stages.all()}
    start = timezone.now() - timedelta(hours=2 + seed)
    grpo = stages["grpo"]
    _copy_samples(run.pk, grpo.pk, steps * GROUPS * G, seed=10 + seed)
    _copy_metrics(grpo.pk, steps, seed=seed)
    rollups.rebuild(stage_pk=grpo.pk)
    rollups.sample_steps_refresh(stage_pk=grpo.pk)
    _probes(run, grpo, steps)
    for number in range(1, 5):
        Checkpoint.objects.create(
            name=f"{name} step {steps * number // 4}",
            path=f"/bench/demo-pages/{run.pk}/checkpoint-{number}",
            produced_by=grpo,
            step=steps * number // 4,
        )
    trained = Checkpoint.objects.create(
        name=f"{name} GRPO", path=f"/bench/demo-pages/{run.pk}/final", produced_by=grpo
    )
    Stage.objects.filter(pk=grpo.pk).update(
        status=Status.SUCCEEDED,
        step=steps,
        total_steps=steps,
        output_checkpoint=trained,
        started_at=start,
        finished_at=start + timedelta(minutes=50),
    )
    for key, checkpoint, score in (
        ("eval-base", base, 0.194),
        ("eval-grpo", trained, 0.448),
    ):
        stage = stages[key]
        _copy_samples(run.pk, stage.pk, EVAL_SAMPLES, seed=20 + seed)
        rollups.sample_steps_refresh(stage_pk=stage.pk)
        result = {
            "pass@1": score + seed / 100,
            "maj@k": score + 0.05,
            "k": 8,
            "mean_length": 24.7,
            "reflection_rate": 0.1 + score / 4,
            "format_rate": 0.9,
        }
        Stage.objects.filter(pk=stage.pk).update(
            status=Status.SUCCEEDED,
            result=result,
            input_checkpoint=checkpoint,
            started_at=start,
            finished_at=start + timedelta(minutes=3),
        )
    Run.objects.filter(pk=run.pk).update(
        status=Status.SUCCEEDED,
        started_at=start,
        finished_at=start + timedelta(minutes=56),
    )
    return run


def _probes(run, stage, steps: int) -> None:
    """A greedy answer to each probe prompt every PROBE_EVERY steps, as GRPO writes them."""
    from r1web.datasets.models import Example
    from r1web.traces.models import Sample

    examples = list(
        Example.objects.filter(version__dataset__name="synthetic", split="test").order_by(
            "position"
        )[:PROBES]
    )
    rng = random.Random(stage.pk)
    rows = []
    for step in [*range(0, steps, PROBE_EVERY), steps]:
        for group, example in enumerate(examples):
            correct = rng.random() < 0.3 + 0.6 * step / steps
            answer = example.answer if correct else f"{example.answer}1"
            think = f"Let me work it out. Wait, let me check step {step} again."
            rows.append(
                Sample(
                    run=run,
                    stage=stage,
                    step=step,
                    group=group,
                    index=0,
                    probe=True,
                    example=example,
                    example_key=example.key,
                    prompt=example.prompt,
                    completion=f"<think>{think}</think>\n<answer>{answer}</answer>",
                    think=think,
                    answer=answer,
                    reference=example.answer,
                    reward=float(correct) + 1,
                    rewards={"accuracy": float(correct), "format": 1.0},
                    length_tokens=30 + step // 50,
                    correct=correct,
                    format_ok=True,
                    reflection_phrases=["wait"],
                    reflection_count=1,
                )
            )
    Sample.objects.bulk_create(rows, batch_size=1000)


def _other_runs(users: dict) -> None:
    """Older runs of every status, so the list has a second page to sort and filter."""
    from django.utils import timezone

    from r1web.runs.models import Recipe, Run, Stage, StageKind, Status

    rng = random.Random(5)
    statuses = [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.SUCCEEDED]
    for number in range(OTHER_RUNS):
        status = statuses[number % len(statuses)]
        created = timezone.now() - timedelta(days=number + 1)
        run = Run.objects.create(
            name=f"older run {number}",
            recipe=rng.choice([Recipe.R1_ZERO, Recipe.COLD_START_SFT]),
            status=status,
            created_by=users["alice" if number % 2 else "operator"],
            created_at=created,
            started_at=created,
            finished_at=created + timedelta(minutes=30),
        )
        for position, (kind, label) in enumerate(
            (
                (StageKind.EVAL, "before"),
                (StageKind.GRPO, ""),
                (StageKind.EVAL, "after"),
            )
        ):
            result = {"pass@1": rng.random(), "maj@k": rng.random(), "k": 8} if label else {}
            Stage.objects.create(
                run=run,
                position=position,
                name=f"stage {position}",
                kind=kind,
                key=["eval-base", "grpo", "eval-grpo"][position],
                status=status,
                params={"label": label} if label else {},
                result=result,
                step=100,
                total_steps=100,
            )


def _flags(run) -> None:
    from bench.trace_browser import _flags as trace_flags

    trace_flags(run)  # about 2,000 reflection / aha / not-reflection flags


def _curation(run, users: dict) -> None:
    """A cold-start queue fed from the demo run: some accepted (two frozen versions), some
    rejected, one held by the operator, the rest pending."""
    from r1web.curation import services
    from r1web.datasets.services import (
        non_reasoning_dataset_ensure,
        preference_dataset_ensure,
    )
    from r1web.traces.models import Sample

    non_reasoning_dataset_ensure()
    preference_dataset_ensure()
    dataset = services.curation_dataset_get_or_create(name="cold-start", user=users["bob"])
    promoted = Sample.objects.filter(run=run, correct=True, reflection_count__gt=0, probe=False)
    services.candidates_promote(
        samples=promoted.order_by("id")[:CANDIDATES], dataset=dataset, user=users["bob"]
    )
    bob = users["bob"]
    for number in range(40):
        item = services.curation_claim_next(dataset=dataset, user=bob)
        if number % 4 == 3:
            services.curation_reject(item=item, user=bob, reason="reads like a guess")
            continue
        services.curation_save(
            item=item,
            user=bob,
            reasoning=item.reasoning + " (checked)",
            summary=item.summary or "The sum.",
        )
        services.curation_accept(
            item=item,
            user=bob,
            reasoning=item.reasoning,
            summary=item.summary or "The sum.",
        )
        if number == 20:
            services.curation_freeze(dataset=dataset, user=bob)
    services.curation_freeze(dataset=dataset, user=bob)
    services.curation_claim_next(dataset=dataset, user=users["operator"])
