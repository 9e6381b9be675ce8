"""The database side of ``bench/load.py``, each half in a process of its own (the load
generator runs under gevent, which must never patch these).

``prepare``: seed PostgreSQL once (COPY, with ``bench/trace_browser.py``'s helpers),
make the viewers and a queued GRPO stage, print what the load needs as JSON.
``ingest``: claim that stage as a worker does and record GRPO steps through
``workers.recording.DatabaseSink`` as fast as the database takes them, until SIGTERM.
"""

from __future__ import annotations

import json
import random
import signal
import sys
import time
from dataclasses import replace

PASSWORD = "load-viewer-password"  # bench accounts in a bench database, loopback only
SEED_RUNS = 4
LIVE_RUN = "load: live run"
TOTAL_STEPS = 100_000  # what the live stage says it will train: it never gets there


def viewer_names(count: int) -> list[str]:
    return [f"load-viewer-{n:02d}" for n in range(count)]


# --- setup ---------------------------------------------------------------------------


def prepare(users: int, samples: int, sessions: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seeded = _seed(samples)
    _viewers(users)
    _drop_runs(f"name = '{LIVE_RUN}'")  # the previous invocation's live run
    stage = _queued_stage()
    plan = {
        "runs": seeded,
        "live_run": stage.run_id,
        "live_stage": stage.pk,
        "users": viewer_names(users),
        "sessions": _sessions(users) if sessions else [],
    }
    print(json.dumps(plan), flush=True)


def _seed(samples: int) -> list[dict]:
    """A few finished GRPO runs: samples (COPY), flags, and every metric TRL logs."""
    from django.db import connection, transaction

    from bench.trace_browser import GROUPS, G, _copy_samples, _flags
    from r1web.runs import rollups
    from r1web.runs.models import Recipe, Run, Stage, StageKind, Status

    marker = f"load: seeded v2, {samples} samples"
    if not Run.objects.filter(name=marker).exists():
        started = time.perf_counter()
        _drop_runs("name LIKE 'load: %'")
        per_run = samples // SEED_RUNS
        steps = per_run // (GROUPS * G)
        with transaction.atomic():
            for number in range(SEED_RUNS):
                run = Run.objects.create(
                    name=f"load: run {number}", recipe=Recipe.R1_ZERO, status=Status.SUCCEEDED
                )
                stage = Stage.objects.create(
                    run=run,
                    position=0,
                    key="grpo",
                    name="GRPO",
                    kind=StageKind.GRPO,
                    status=Status.SUCCEEDED,
                    step=steps,
                    total_steps=steps,
                )
                _copy_samples(run.pk, stage.pk, per_run, seed=100 + number)
                _copy_metrics(stage.pk, steps, seed=number)
                rollups.rebuild(stage_pk=stage.pk)
                rollups.sample_steps_refresh(stage_pk=stage.pk)  # as recording them does
                if number == 0:
                    _flags(run)
            Run.objects.create(name=marker, recipe=Recipe.CUSTOM, status=Status.SUCCEEDED)
        with connection.cursor() as cursor:
            for table in ("traces_sample", "runs_metricpoint", "runs_metricrollup"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        elapsed = time.perf_counter() - started
        print(f"seed: {samples:,} samples in {elapsed:.0f}s", file=sys.stderr)
    return _seeded_runs()


def _seeded_runs() -> list[dict]:
    from django.db.models import Max

    from r1web.runs.models import Run
    from r1web.traces.models import Sample

    runs = []
    for run in Run.objects.filter(name__startswith="load: run ").order_by("pk"):
        top = Sample.objects.filter(run=run).aggregate(top=Max("step"))["top"]
        runs.append({"id": run.pk, "stage": run.stages.get().pk, "steps": top})
    return runs


def _copy_metrics(stage_id: int, steps: int, seed: int) -> None:
    from django.db import connection

    rng = random.Random(seed)
    lines = [
        f"{stage_id}\t{key}\t{step}\t{value}\n"
        for step in range(1, steps + 1)
        for key, value in metric_values(rng, step, steps).items()
    ]
    sql = "COPY runs_metricpoint (stage_id, key, step, value) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write("".join(lines))


def metric_values(rng: random.Random, step: int, total: int) -> dict[str, float]:
    """What TRL's GRPOTrainer logs every step (logging_steps=1)."""
    progress = step / max(total, 1)
    accuracy = min(1.0, 0.2 + 0.6 * progress + rng.gauss(0, 0.05))
    length = 180 + 400 * progress + rng.gauss(0, 20)
    return {
        "loss": rng.gauss(0, 0.01),
        "grad_norm": abs(rng.gauss(0.5, 0.2)),
        "learning_rate": 1e-6 * (1 - progress),
        "reward": accuracy + 0.9,
        "reward_std": abs(rng.gauss(0.4, 0.05)),
        "rewards/accuracy/mean": accuracy,
        "rewards/format/mean": min(1.0, 0.6 + 0.4 * progress),
        "completions/mean_length": length,
        "completions/min_length": length / 3,
        "completions/max_length": length * 2,
        "completions/clipped_ratio": 0.01,
        "kl": 0.001 * step**0.5,
        "entropy": 0.6 - 0.2 * progress,
        "clip_ratio/region_mean": 0.0,
        "reflection_rate": 0.05 + 0.4 * progress,
        "num_tokens": step * 128 * length,
    }


def _drop_runs(where: str) -> None:
    """Plain SQL: the ORM's cascade would load every sample of the runs first."""
    from django.db import connection

    runs = f"SELECT id FROM runs_run WHERE {where}"
    stages = f"SELECT id FROM runs_stage WHERE run_id IN ({runs})"
    with connection.cursor() as cursor:
        for sql in (
            f"DELETE FROM traces_flag WHERE run_id IN ({runs})",
            f"DELETE FROM traces_sample WHERE run_id IN ({runs})",
            f"DELETE FROM runs_metricrollup WHERE stage_id IN ({stages})",
            f"DELETE FROM runs_metricpoint WHERE stage_id IN ({stages})",
            f"DELETE FROM runs_checkpoint WHERE produced_by_id IN ({stages})",
            f"DELETE FROM runs_stage WHERE run_id IN ({runs})",
            f"DELETE FROM runs_run WHERE {where}",
        ):
            cursor.execute(sql)


def _viewers(count: int) -> None:
    """``count`` viewers sharing one password hash (hashing 50 times costs a minute)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from r1web.accounts.roles import role_grant

    hashed = make_password(PASSWORD)
    for name in viewer_names(count):
        user, _ = get_user_model().objects.get_or_create(username=name)
        user.password = hashed
        user.save(update_fields=["password"])
        role_grant(user=user, role="viewer")


def _sessions(count: int) -> list[str]:
    """A signed-in session per viewer, made as Django's test client signs in (no
    password hashing: fifty sign-ins are not what this measures)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    keys = []
    for name in viewer_names(count):
        client = Client()
        client.force_login(get_user_model().objects.get(username=name))
        keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return keys


def _queued_stage():
    from r1web.runs.models import Recipe, Run, Stage, StageKind, Status

    run = Run.objects.create(name=LIVE_RUN, recipe=Recipe.R1_ZERO, status=Status.QUEUED)
    # Queued directly (stage_queue would send a Celery task): the ingester claims it.
    return Stage.objects.create(
        run=run,
        position=0,
        key="grpo",
        name="GRPO",
        kind=StageKind.GRPO,
        status=Status.QUEUED,
        trl_config={"num_generations": 8, "logging_steps": 1},
    )


# --- ingestion -----------------------------------------------------------------------

_stopping = False


def ingest(stage_pk: int, batch: int, generations: int, step_seconds: float = 0.0) -> None:
    """Claim the stage and record GRPO steps through the worker's sink until SIGTERM, one
    every ``step_seconds`` (the time a GPU takes for a step) or, with 0, as fast as the
    database takes them.

    Prints ``<unix time> <samples handed to the sink>`` after every step, then a JSON
    summary once the sink has stored the last batch and the stage has succeeded.
    """
    import django

    django.setup()
    from r1web.runs.services import stage_claim, stage_succeed
    from workers.recording import DatabaseSink, Heartbeat

    signal.signal(signal.SIGTERM, _stop)
    stage = stage_claim(stage_pk=stage_pk, worker="bench-load")
    assert stage is not None and stage.pk == stage_pk, "the live stage was not claimable"
    pool = _record_pool(4 * batch)
    rng = random.Random(0)
    step, started = 0, time.time()
    with Heartbeat(stage.pk), DatabaseSink(stage) as sink:
        while not _stopping:
            step += 1
            due = started + (step - 1) * step_seconds
            sink.samples(_step_records(pool, step, batch, generations, rng))
            sink.metrics(step, metric_values(rng, step, TOTAL_STEPS))
            sink.progress(step, TOTAL_STEPS)
            sink.should_stop()  # asked every step, as SinkCallback does
            # The sink never blocks training; with no GPU to wait for, keep its writer
            # at most one step behind instead of queueing without end.
            while sink._writes.qsize() > 1 and not _stopping:
                time.sleep(0.001)
            print(f"{time.time():.3f} {step * batch}", flush=True)
            if step_seconds:
                time.sleep(max(0.0, due + step_seconds - time.time()))
    elapsed = time.time() - started
    stored = stage.samples.count()
    stage_succeed(stage_pk=stage.pk)
    summary = {"steps": step, "handed": step * batch, "stored": stored, "seconds": elapsed}
    print(json.dumps(summary), flush=True)


def _stop(*_) -> None:
    global _stopping
    _stopping = True


STEPS_TEXT = (
    "First I add the ones: {x} and {y}.",
    "Then I carry the one to the tens.",
    "So the tens give {x} plus {y} again.",
    "Let me write the partial sums down.",
    "That makes the running total {s}.",
    "Now the hundreds column.",
)
REFLECTIONS = (
    "Wait, let me recheck the carry.",
    "Hmm, let me double-check that sum.",
    "Alternatively, I can count up from {x}.",
    "However, I forgot the carry; try again.",
)


def _record_pool(size: int) -> list:
    """Prompts with R1-style completions (about 100 to 800 tokens), built as GRPO builds
    them (``build_record``: parsing, correctness, reflection phrases)."""
    from r1domain.records import build_record

    rng = random.Random(1)
    pool = []
    for number in range(size):
        a, b = rng.randint(10, 999), rng.randint(10, 999)
        answer = a + b if rng.random() < 0.6 else a + b + rng.randint(1, 9)
        think = _reasoning(rng, a, b, answer)
        completion = f"<think>{think}</think>\n<answer>{answer}</answer>"
        pool.append(
            build_record(
                step=0,
                group=0,
                index=0,
                prompt=f"Tom has {a} marbles and finds {b} more. How many does he have now?",
                completion=completion,
                reference=str(a + b),
                task="math",
                length_tokens=len(completion) // 4,
                rewards={"accuracy": float(answer == a + b), "format": 1.0},
                advantage=rng.gauss(0, 1),
                example_key=f"gsm8k:{number % 500}",
            )
        )
    return pool


def _reasoning(rng: random.Random, a: int, b: int, answer: int) -> str:
    parts = [f"Tom starts with {a} and finds {b}, so I need {a} + {b}."]
    for _ in range(rng.randint(8, 60)):
        template = rng.choice(REFLECTIONS if rng.random() < 0.06 else STEPS_TEXT)
        digits = {"x": rng.randint(1, 9), "y": rng.randint(1, 9), "s": rng.randint(10, 999)}
        parts.append(template.format(**digits))
    parts.append(f"So the answer is {answer}.")
    return " ".join(parts)


def _step_records(pool: list, step: int, batch: int, generations: int, rng) -> list:
    """One GRPO step: ``batch // generations`` prompts with ``generations`` completions."""
    return [
        replace(rng.choice(pool), step=step, group=i // generations, index=i % generations)
        for i in range(batch)
    ]
