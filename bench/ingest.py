"""One stream of GRPO rollouts written into r1web, MLflow and trackio side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h6 .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --steps 20 --completions 64    # a quick, smaller one

The stream: ``--steps`` (200) steps of ``--completions`` (256) completions of about
``--chars`` (2048) characters each, in groups of 8 per prompt, with each reward
function's score, the total and the advantage, and ``--metrics`` (40) metrics a step.
It is generated before any clock starts; every tool gets the same rows.

* r1web API: ``r1web_client``'s sender (what ``R1WebCallback`` uses) posting to r1web
  under gunicorn (2 workers, 4 threads) on the database of DATABASE_URL; the clock stops
  when the last batch is stored.
* r1web sink: the worker's in-process ``workers.recording.DatabaseSink`` (no HTTP).
* MLflow: ``log_metrics`` and ``log_table`` (one table artifact a step) into a local
  file store under a temporary folder.
* trackio: ``trackio.log`` of the metrics and a ``trackio.Table`` a step, local (SQLite
  under a temporary folder); the clock stops when ``trackio.finish()`` has written all.

Then the time to open step 150's completions with a reward of at least 1: r1web's trace
browser page (in-process test client, filtered by run, step and reward), MLflow's
``load_table`` of that step's artifact, trackio's ``get_logs`` of the run (what its
dashboard reads). Last lines: ``ratio mlflow/r1web <x>`` and ``ratio trackio/r1web <y>``,
each tool's ingestion time over r1web's through the API (higher is better for r1web).
Needs requirements-bench.txt (mlflow-skinny, trackio).

``--floor`` adds what no design that stores before it acknowledges can beat: the
stream's bytes as the client encodes them (stdlib JSON, in the sender's batches of 1,024
completions) inserted into PostgreSQL as one ``bytea`` row a batch, one transaction each,
nothing parsed or indexed; and the same bytes appended to a file with an fsync a batch.
Lines ``floor <what> <s>`` and ``floor ratio mlflow/<what> <x>``: the highest
``ratio mlflow/r1web`` such a design could reach.

``--training-overhead MODEL`` measures something else: what the client costs a training
run (examples/trl_grpo.py with and without ``R1WebCallback``, alternating, the clock
stopping when every record is stored); last line ``overhead ratio <with / without>``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")
TMP = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
os.environ["TRACKIO_DIR"] = str(TMP / "trackio")  # read when trackio is imported
# MLflow 3 keeps its file store "in maintenance" behind this switch; its database store
# needs SQLAlchemy, which mlflow-skinny leaves out.
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

G = 8  # completions per prompt
REFLECTIONS = ("wait,", "let me recheck:", "however,", "double-check:")


def make_stream(steps: int, completions: int, chars: int, metrics: int, seed: int = 0):
    """[(step, rows, metric values)]: reasoning made of a 3,000-word made-up vocabulary
    (text varied like a model's, so search indexes see as many distinct trigrams), a
    reflection phrase in about a third of the completions."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = [
        "".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(3000)
    ]
    pool = []
    for i in range(64):
        words = []
        while sum(len(w) + 1 for w in words) < chars - 60:
            words.append(rng.choice(vocabulary))
        if i % 3 == 0:
            words.insert(len(words) // 2, rng.choice(REFLECTIONS))
        pool.append(" ".join(words))
    keys = [f"bench/metric_{i:02d}" for i in range(metrics - 3)] + [
        "loss",
        "reward",
        "rewards/accuracy/mean",
    ]
    stream = []
    for step in range(1, steps + 1):
        rows = []
        for i in range(completions):
            group, index = divmod(i, G)
            correct = rng.random() < 0.4
            answer = rng.randint(0, 9)
            think = pool[(step * 7 + i) % len(pool)]
            rows.append(
                {
                    "step": step,
                    "group": group,
                    "index": index,
                    "prompt": f"Find the largest of {group} {step % 10} {index} (problem {group})",
                    "completion": f"<think>{think[: chars - 40]} {step}.{i}</think> "
                    f"<answer>{answer}</answer>",
                    "rewards": {"accuracy": float(correct), "format": 1.0},
                    "reward": float(correct) + 1.0,
                    "advantage": round(rng.gauss(0, 1), 4),
                    "length_tokens": chars // 4,
                }
            )
        values = {key: rng.random() for key in keys}
        stream.append((step, rows, values))
    return stream


def stream_bytes(stream) -> int:
    return sum(len(r["prompt"]) + len(r["completion"]) for _, rows, _ in stream for r in rows)


# --- r1web ---------------------------------------------------------------------------


def django_setup():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bench_user():
    from django.contrib.auth import get_user_model

    from r1web.accounts.roles import role_grant

    user, _ = get_user_model().objects.get_or_create(username="bench-ingest")
    role_grant(user=user, role="operator")
    return user


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    log = (TMP / "gunicorn.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "r1web.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "300",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start: see {TMP / 'gunicorn.log'}")


def r1web_api(stream, label: str) -> tuple[float, float, int]:
    """The client's sender against gunicorn: (seconds until all is stored, seconds the
    writing loop spent handing records over, run pk)."""
    from r1web_client.sender import Sender, Transport

    from r1web.ingest.services import token_create

    _, secret = token_create(user=bench_user(), name="bench")
    port = free_port()
    server = start_gunicorn(port)
    try:
        key = f"bench-{os.getpid()}-{int(time.time())}"
        started = time.perf_counter()
        sender = Sender(
            Transport(f"http://127.0.0.1:{port}", secret, timeout=300), TMP / "spool.jsonl"
        )
        sender.open_run(key, {"name": label, "kind": "grpo", "config": {}})
        for step, rows, values in stream:
            sender.records(
                samples=rows,
                metrics=[{"step": step, "values": values}],
                progress={"step": step, "total": len(stream)},
            )
        sender.finish()
        handover = time.perf_counter() - started
        if not sender.close(timeout=600):
            raise SystemExit("r1web API: records were left in the spool")
        seconds = time.perf_counter() - started
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    from r1web.ingest.models import ExternalRun

    return seconds, handover, ExternalRun.objects.get(key=key).run_id


def r1web_sink(stream, label: str) -> tuple[float, float, int]:
    """The worker's own DatabaseSink, in-process: (stored, waited) seconds, run pk."""
    from r1web.ingest.rows import to_records
    from r1web.runs.models import Recipe, Run, Stage, StageKind
    from workers.recording import DatabaseSink

    run = Run.objects.create(name=label, recipe=Recipe.EXTERNAL, status="running")
    stage = Stage.objects.create(
        run=run, position=0, name="GRPO", kind=StageKind.GRPO, status="running"
    )
    started = time.perf_counter()
    with DatabaseSink(stage) as sink:
        for step, rows, values in stream:
            sink.samples(to_records(rows, "r1-zero"))
            sink.metrics(step, values)
        waited = time.perf_counter() - started
    return time.perf_counter() - started, waited, run.pk


def r1web_open(run_pk: int, step: int, repeat: int) -> tuple[float, float, int]:
    """(first, median of the rest) ms of the trace browser page filtered to ``step`` and
    a reward of at least 1, and how many samples match."""
    from django.test import Client

    from r1web.traces.models import Sample

    client = Client()
    client.force_login(bench_user())
    url = f"/traces/?run={run_pk}&step_min={step}&step_max={step}&reward_min=1"
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    matching = Sample.objects.filter(run_id=run_pk, step=step, reward__gte=1).count()
    return times[0], statistics.median(times[1:] or times), matching


def r1web_count(run_pk: int) -> int:
    from r1web.traces.models import Sample

    return Sample.objects.filter(run_id=run_pk).count()


# --- what storing the bytes alone costs ----------------------------------------------

SENDER_BATCH = 1024  # completions a POST, r1web_client.sender.Sender's default


def sender_batches(stream) -> list[bytes]:
    """The stream's request bodies as the client's sender merges and encodes them."""
    from r1web_client.sender import _encode, _merge

    bodies, batch = [], {}
    for step, rows, values in stream:
        _merge(batch, {"samples": rows, "metrics": [{"step": step, "values": values}]})
        if len(batch["samples"]) >= SENDER_BATCH:
            bodies.append(_encode(batch))
            batch = {}
    if batch:
        bodies.append(_encode(batch))
    return bodies


def floor_postgres(stream) -> float:
    """Encode and durably insert each body as one bytea row (a table of its own, dropped
    after): no parsing, no validation, no index but the primary key."""
    from django.db import connection, transaction

    table = f"bench_ingest_floor_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, body bytea NOT NULL)")
    try:
        started = time.perf_counter()
        for body in sender_batches(stream):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {table} (body) VALUES (%s)", [body])
        return time.perf_counter() - started
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {table}")


def floor_file(stream) -> float:
    """Encode and append each body to a file, with an fsync a batch."""
    started = time.perf_counter()
    with (TMP / "floor.jsonl").open("ab") as spool:
        for body in sender_batches(stream):
            spool.write(body + b"\n")
            spool.flush()
            os.fsync(spool.fileno())
    return time.perf_counter() - started


# --- MLflow and trackio ----------------------------------------------------------------


def table(rows) -> dict:
    return {
        "step": [r["step"] for r in rows],
        "group": [r["group"] for r in rows],
        "index": [r["index"] for r in rows],
        "prompt": [r["prompt"] for r in rows],
        "completion": [r["completion"] for r in rows],
        "accuracy": [r["rewards"]["accuracy"] for r in rows],
        "format": [r["rewards"]["format"] for r in rows],
        "reward": [r["reward"] for r in rows],
        "advantage": [r["advantage"] for r in rows],
    }


def mlflow_artifact(step: int, single: bool) -> str:
    return "completions.json" if single else f"completions/step_{step:05d}.json"


def mlflow_ingest(stream, single: bool) -> tuple[float, float, str]:
    """One table artifact a step, or (``single``) every step appended to one table, as a
    fixed key does (MLflow then reads and rewrites the whole table at every step)."""
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri((TMP / "mlruns").as_uri())
    started = time.perf_counter()
    with mlflow.start_run() as run:
        for step, rows, values in stream:
            mlflow.log_metrics(values, step=step)
            mlflow.log_table(
                data=pd.DataFrame(table(rows)), artifact_file=mlflow_artifact(step, single)
            )
    seconds = time.perf_counter() - started
    return seconds, seconds, run.info.run_id  # every call blocks until written


def mlflow_open(run_id: str, step: int, repeat: int, single: bool) -> tuple[float, float, int]:
    import mlflow

    times, matching = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        frame = mlflow.load_table(mlflow_artifact(step, single), run_ids=[run_id])
        matching = len(frame[(frame["step"] == step) & (frame["reward"] >= 1)])
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times[1:] or times), matching


def trackio_ingest(stream, project: str) -> tuple[float, float, str]:
    import pandas as pd
    import trackio

    started = time.perf_counter()
    trackio.init(project=project, name="bench", embed=False)
    for step, rows, values in stream:
        trackio.log(
            {**values, "completions": trackio.Table(dataframe=pd.DataFrame(table(rows)))}, step=step
        )
    waited = time.perf_counter() - started  # log() queues; finish() writes what is left
    trackio.finish()
    return time.perf_counter() - started, waited, project


def trackio_open(project: str, step: int, repeat: int) -> tuple[float, float, int]:
    from trackio.sqlite_storage import SQLiteStorage

    times, matching = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        logs = SQLiteStorage.get_logs(project, "bench")
        entry = next(log for log in logs if log["step"] == step)
        rows = entry["completions"]["_value"]
        matching = sum(1 for row in rows if row["reward"] >= 1)
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times[1:] or times), matching


# --- main -------------------------------------------------------------------------------


# --- what the client costs a training run ----------------------------------------------


def training_overhead(model: str, steps: int, repeats: int) -> None:
    """examples/trl_grpo.py trained with and without R1WebCallback (alternating, r1web
    under gunicorn); prints ``overhead ratio <with / without>``."""
    import importlib.util

    from r1web_client import R1WebCallback

    from r1web.ingest.services import token_create

    spec = importlib.util.spec_from_file_location("trl_grpo", ROOT / "examples" / "trl_grpo.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    _, secret = token_create(user=bench_user(), name="bench overhead")
    port = free_port()
    server = start_gunicorn(port)
    times: dict[str, list[float]] = {"bare": [], "r1web": []}
    try:
        for i in range(repeats):
            for side in ("bare", "r1web") if i % 2 == 0 else ("r1web", "bare"):
                args = example.parse_args(
                    [
                        "--url",
                        f"http://127.0.0.1:{port}",
                        "--token",
                        secret,
                        "--model",
                        model,
                        "--max-steps",
                        str(steps),
                        "--output-dir",
                        str(TMP / f"{side}-{i}"),
                        "--logging-steps",
                        "1",
                    ]
                )
                trainer = example.build_trainer(args)
                if side == "bare":
                    trainer.remove_callback(R1WebCallback)
                started = time.perf_counter()
                trainer.train()  # with r1web: until every record is stored
                times[side].append(time.perf_counter() - started)
                print(f"run {i} {side:5} {times[side][-1]:7.2f} s", flush=True)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    print(f"overhead ratio {sum(times['r1web']) / sum(times['bare']):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--completions", type=int, default=256, help="per step")
    parser.add_argument("--chars", type=int, default=2048, help="per completion")
    parser.add_argument("--metrics", type=int, default=40, help="per step")
    parser.add_argument("--open-step", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=5, help="timed opens per tool")
    parser.add_argument("--skip", default="", help="comma-separated: api,sink,mlflow,trackio")
    parser.add_argument(
        "--mlflow-single-table",
        action="store_true",
        help="append every step to one MLflow table (default: one a step)",
    )
    parser.add_argument(
        "--training-overhead",
        metavar="MODEL",
        help="instead: time examples/trl_grpo.py on MODEL with and without the callback",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time storing the encoded bytes alone (PostgreSQL bytea, file + fsync)",
    )
    parser.add_argument("--overhead-steps", type=int, default=20)
    parser.add_argument("--overhead-repeats", type=int, default=2)
    args = parser.parse_args()
    if args.training_overhead:
        django_setup()
        try:
            training_overhead(args.training_overhead, args.overhead_steps, args.overhead_repeats)
        finally:
            shutil.rmtree(TMP, ignore_errors=True)
        return
    skip = set(filter(None, args.skip.split(",")))
    open_step = min(args.open_step, args.steps)
    stream = make_stream(args.steps, args.completions, args.chars, args.metrics)
    total = args.steps * args.completions
    print(
        f"stream: {args.steps} steps x {args.completions} completions "
        f"({stream_bytes(stream) / 2**20:.0f} MiB of text), {args.metrics} metrics a step",
        flush=True,
    )
    django_setup()
    from django.db import connection

    print(f"r1web database: {connection.vendor}", flush=True)
    results: dict[str, tuple[float, float]] = {}  # stored, waited
    opened: dict[str, tuple[float, float, int]] = {}
    tag = f"bench ingest {os.getpid()}"
    single = args.mlflow_single_table
    floors: dict[str, float] = {}  # seconds to store the encoded bytes alone
    try:
        if "api" not in skip:
            *results["r1web-api"], run_pk = r1web_api(stream, f"{tag} api")
            assert r1web_count(run_pk) == total, "r1web (API) lost completions"
            opened["r1web-api"] = r1web_open(run_pk, open_step, args.repeat)
        if "sink" not in skip:
            *results["r1web-sink"], run_pk = r1web_sink(stream, f"{tag} sink")
            assert r1web_count(run_pk) == total, "r1web (sink) lost completions"
            opened["r1web-sink"] = r1web_open(run_pk, open_step, args.repeat)
        if "mlflow" not in skip:
            *results["mlflow"], run_id = mlflow_ingest(stream, single)
            opened["mlflow"] = mlflow_open(run_id, open_step, args.repeat, single)
        if "trackio" not in skip:
            *results["trackio"], project = trackio_ingest(stream, f"bench-ingest-{os.getpid()}")
            opened["trackio"] = trackio_open(project, open_step, args.repeat)
        if args.floor:
            # Loaded before any clock: r1web_client loads transformers for its callback.
            import r1web_client.sender  # noqa: F401

            if connection.vendor == "postgresql":
                floors["postgres-bytes"] = floor_postgres(stream)
            floors["file-bytes"] = floor_file(stream)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    report(results, opened, total)
    report_floors(floors, results)


def report(results, opened, total: int) -> None:
    print(
        f"{'':12} {'stored s':>9} {'rows/s':>8} {'loop waits s':>13} {'open ms':>8} "
        f"{'reopen ms':>10} {'rows':>5}"
    )
    for name, (stored, waited) in results.items():
        first, median, matching = opened[name]
        print(
            f"{name:12} {stored:9.2f} {total / stored:8.0f} {waited:13.2f} {first:8.1f} "
            f"{median:10.1f} {matching:5d}"
        )
    # "loop waits": how long the writing (training) loop was held up; "stored": until
    # every record was written where the tool reads it back.
    base = results.get("r1web-api") or results.get("r1web-sink")
    for name in ("mlflow", "trackio"):
        if name in results and base:
            print(f"loop-wait ratio {name}/r1web {results[name][1] / max(base[1], 1e-3):.0f}")
    for name in ("mlflow", "trackio"):
        if name in results and base:
            print(f"ratio {name}/r1web {results[name][0] / base[0]:.2f}")


def report_floors(floors: dict[str, float], results) -> None:
    for name, seconds in floors.items():
        print(f"floor {name} {seconds:.2f}")
    if "mlflow" in results:
        for name, seconds in floors.items():
            print(f"floor ratio mlflow/{name} {results['mlflow'][0] / seconds:.2f}")


if __name__ == "__main__":
    main()
