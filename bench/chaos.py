"""Faults, measured: workers killed at random points, Redis and PostgreSQL restarted under
a running stage, and what each run stored in the end.

    .venv/bin/python bench/chaos.py [--runs 10] [--seed 0] [--keep]

Self-contained: it starts its own PostgreSQL cluster (``initdb`` in a temporary folder,
trust auth, a free port; as the ``postgres`` user when run as root) and its own
``redis-server`` (append-only file, as docker-compose runs it), never the machine's. Every
server, worker and folder it made is removed at exit, Ctrl-C included (``--keep`` keeps
the folder with the worker and server logs).

It builds a micro base model, then launches ``--runs`` small R1-Zero runs (eval, GRPO,
eval) one after another through ``r1web.runs.recipes.launch``, executed by a real Celery
worker process (``--pool solo``). With the seed it picks, for every run, a point to
SIGKILL the worker (a stage, a step and a delay), and for one run each a GRPO step at
which Redis, and PostgreSQL (``pg_ctl restart -m fast``), are restarted. After a kill it
starts a new worker and acts as a user: when the run shows "failed" (the dead worker's
stage reaped), it resumes it (``run_resume``).

Per run it prints, then ends with ``chaos finished=<n>/<runs> lost=<n> duplicated=<n>``:

* finished: the run succeeded, and every failure it went through was a killed worker's
  stage; a failure caused by a Redis or PostgreSQL restart counts the run as unfinished.
* lost: sample positions the run should hold and does not. A GRPO stage holds
  ``steps x completions_per_step`` training positions (step, group, index) and one probe
  answer per probe prompt and probe round; an evaluation ``problems x k`` (step 0).
* duplicated: (a) rows sharing a position (``sample_position_unique`` makes this 0 by
  construction; counted anyway), (b) rows at positions outside that set (a step past
  ``max_steps``, a probe round that should not exist), and (c) stale
  rows: a resume from a checkpoint redoes the steps after it, whose new completions must
  *replace* the dead attempt's rows. Rows of a redone step written before the resume
  would be a second write of that position whose newer sample was dropped
  (``samples_record`` skips stored positions). The rewritten positions are shown as
  ``replaced``: redone by design, not duplicates.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
QUEUE = "chaos"
# A micro GRPO step takes 0.3 s on a fast 2-core host and about 1.5 s on a slow one: 20
# steps leave a kill room to land inside the stage on either (see ``plan``).
STEPS = 20
GRPO_CONFIG = {"per_device_train_batch_size": 8, "num_generations": 4,
               "max_completion_length": 32, "save_steps": 2, "save_total_limit": 2}
EVAL_K = 4
PROBE_EVERY = 6  # probe rounds at steps 0, 6, 12, 18 and 20: some are redone by a resume
HEARTBEAT_SECONDS, STALE_SECONDS = 1, 10
MAX_RESUMES = 4
STUCK_SECONDS = 240  # a run that changes nothing for this long is given up
STAGES = ("eval-base", "grpo", "eval-grpo")


# Private servers --------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f}s")


class Postgres:
    """A throw-away cluster. PostgreSQL refuses to run as root, so as root the cluster
    belongs to, and runs as, the ``postgres`` user."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.data = folder / "data"
        folder.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(folder, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/r1web_chaos"

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True,
                       cwd=self.folder, timeout=300)

    def start(self) -> Postgres:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._pg_ctl("-o", options, "-w", "start")
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  "postgres", "r1web_chaos")
        return self

    def restart(self) -> float:
        started = time.monotonic()
        self._pg_ctl("-m", "fast", "-w", "restart")
        return time.monotonic() - started

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._pg_ctl("-m", "immediate", "stop")

    def _pg_ctl(self, *args: str) -> None:
        # The server's output goes to the log: to a pipe, it would hold _run open forever.
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                  *args)


class Redis:
    """A redis-server with an append-only file, as docker-compose runs it: queued tasks
    survive its restart."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        folder.mkdir()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", str(self.folder), "--appendonly", "yes", "--save", ""]
        log = (self.folder / "log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        wait_for_port(self.port)
        return self

    def restart(self) -> float:
        started = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis flushes its append-only file
            self.process.wait(timeout=30)


class Worker:
    """``celery -A r1web worker --pool solo`` in a process group of its own."""

    def __init__(self, env: dict, log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        command = [sys.executable, "-m", "celery", "-A", "r1web", "worker", "-Q", QUEUE,
                   "--pool", "solo", "--concurrency", "1", "--loglevel", "INFO",
                   "--hostname", f"chaos-{uuid.uuid4().hex[:4]}@%h", "--without-mingle",
                   "--without-gossip"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env,
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL to the whole group: no clean-up at all, like an OOM kill."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


# The plan -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Fault:
    """Do ``what`` once stage ``stage`` of the run is running at step >= ``step``."""

    what: str  # kill, redis, postgres
    stage: str
    step: int
    delay: float = 0.0

    def label(self) -> str:
        return f"{self.what}@{self.stage}:{self.step}+{self.delay:.1f}s"


def plan(runs: int, seed: int) -> list[list[Fault]]:
    """One SIGKILL per run at a seeded point (GRPO three times as likely as each
    evaluation); a Redis restart and a PostgreSQL restart mid-GRPO, in two runs. A
    restart waits for its step to be reached again after a kill in the same stage."""
    rng = random.Random(seed)
    faults: list[list[Fault]] = []
    for _ in range(runs):
        stage = rng.choices(STAGES, weights=(1, 3, 1))[0]
        # Room left in the stage: its progress shows up to a second late (the sink's
        # flush), a second is 3 micro steps on a fast host, and the delay comes on top.
        # With 8 steps, and later points or longer delays, most kills found the stage
        # already finished. An evaluation is a second or two: killed at once, or missed.
        if stage == "grpo":
            step, delay = rng.randrange(STEPS - 8), rng.uniform(0, 0.5)
        else:
            step, delay = 0, rng.uniform(0, 0.2)
        faults.append([Fault("kill", stage, step, round(delay, 2))])
    redis_run, postgres_run = rng.sample(range(runs), 2) if runs > 1 else (0, 0)
    faults[redis_run].append(Fault("redis", "grpo", rng.randrange(1, STEPS - 8)))
    faults[postgres_run].append(Fault("postgres", "grpo", rng.randrange(1, STEPS - 8)))
    # Stage by stage; in one stage the kill first, so that a restart always hits a worker
    # that lives on (the resumed attempt) and must carry on through it.
    order = {name: position for position, name in enumerate(STAGES)}
    for run_faults in faults:
        run_faults.sort(key=lambda f: (order[f.stage], f.what != "kill", f.step))
    return faults


# Django side ------------------------------------------------------------------------

def environment(postgres: Postgres, redis: Redis, var_dir: Path) -> dict:
    return {
        "DATABASE_URL": postgres.url,
        "CELERY_BROKER_URL": redis.url,
        "R1WEB_VAR_DIR": str(var_dir),
        "R1WEB_QUEUES": f"cpu,gpu,{QUEUE}",
        "R1WEB_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "R1WEB_STALE_AFTER_SECONDS": str(STALE_SECONDS),
        "R1WEB_TORCH_THREADS": os.environ.get("R1WEB_TORCH_THREADS", "1"),
        "DJANGO_SETTINGS_MODULE": "r1web.settings",
        "PYTHONUNBUFFERED": "1",
    }


def setup_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_micro_base() -> None:
    """The demo's base slot filled with a ~40k-parameter model (seconds to build): the
    runs exercise the machinery, not learning."""
    from django.conf import settings
    from transformers.utils import logging as transformers_logging

    from workers.stages.tiny_base import ModelSpec, TrainSpec, build_tiny_base

    transformers_logging.disable_progress_bar()
    build_tiny_base(settings.TINY_BASE_DIR, seed=0,
                    model_spec=ModelSpec(hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2,
                                         num_key_value_heads=1),
                    train=TrainSpec(n_examples=256, batch_size=32, threads=1))


def db_retrying(func, timeout: float = 120):
    """This process's reads and writes, through a PostgreSQL restart."""
    from django.db import DatabaseError, close_old_connections, connection

    deadline = time.monotonic() + timeout
    while True:
        try:
            close_old_connections()
            return func()
        except DatabaseError:
            if time.monotonic() > deadline:
                raise
            with contextlib.suppress(DatabaseError):
                connection.close()
            time.sleep(0.5)


def snapshot(run_pk: int) -> tuple[str, dict]:
    from r1web.runs.models import Run

    run = Run.objects.get(pk=run_pk)
    stages = {s.key: s for s in run.stages.all()}
    return run.status, stages


# Driving one run --------------------------------------------------------------------

@dataclass
class RunReport:
    index: int
    pk: int = 0
    status: str = ""
    events: list[str] = field(default_factory=list)
    kills: int = 0
    reaped: int = 0  # failures a kill explains: one each
    resumes: int = 0
    unplanned: list[str] = field(default_factory=list)  # failures no kill explains
    missed: list[str] = field(default_factory=list)  # faults that hit no running stage
    # stage pk -> [(checkpoint step resumed from, when the resume was asked)]
    resumed_from: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    replaced: int = 0
    lost: int = 0
    duplicated: int = 0
    seconds: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status == "succeeded" and not self.unplanned


class Chaos:
    def __init__(self, env: dict, postgres: Postgres, redis: Redis, log: Path) -> None:
        self.env, self.postgres, self.redis, self.log = env, postgres, redis, log
        self.worker = Worker(env, log).start()
        self.killed: dict[int, int] = {}  # stage pk -> the attempt whose worker was killed

    def close(self) -> None:
        self.worker.stop()

    def drive(self, report: RunReport, faults: list[Fault]) -> None:
        from r1web.runs.recipes import launch

        values = {"name": f"chaos {report.index + 1}", "max_steps": STEPS, "eval_k": EVAL_K,
                  # a different problem count per run: no evaluation is reused from another
                  "eval_limit": 16 + report.index, "grpo_config": GRPO_CONFIG,
                  "probe_every": PROBE_EVERY}
        started = time.monotonic()
        report.pk = db_retrying(lambda: launch("r1-zero", values, queue=QUEUE).pk)
        pending, last_change, last_seen = list(faults), time.monotonic(), None
        while True:
            status, stages = db_retrying(lambda: snapshot(report.pk))
            seen = (status, *[(s.status, s.step, s.attempt) for s in stages.values()])
            if seen != last_seen:
                last_seen, last_change = seen, time.monotonic()
            if pending and self._due(pending[0], stages):
                self._fire(pending.pop(0), report, stages)
            elif status == "succeeded":
                break
            elif status in ("failed", "cancelled"):
                if report.resumes >= MAX_RESUMES:
                    break
                self._resume(report, stages)
            elif time.monotonic() - last_change > STUCK_SECONDS:
                report.unplanned.append(f"stuck {STUCK_SECONDS}s: " + ", ".join(
                    f"{key} {s.status}" for key, s in stages.items()))
                break
            time.sleep(0.1)
        report.missed += [f"{fault.label()} (never due)" for fault in pending]
        report.status = status
        report.seconds = time.monotonic() - started

    def _due(self, fault: Fault, stages: dict) -> bool:
        # A killed attempt shows "running" until it is reaped: wait for a live one.
        stage = stages[fault.stage]
        live = stage.attempt > self.killed.get(stage.pk, 0)
        return stage.status == "running" and live and stage.step >= fault.step

    def _fire(self, fault: Fault, report: RunReport, stages: dict) -> None:
        time.sleep(fault.delay)
        if fault.what == "kill":
            _, now = db_retrying(lambda: snapshot(report.pk))
            running = [stage for stage in now.values() if stage.status == "running"]
            self.worker.kill()
            self.killed.update({stage.pk: stage.attempt for stage in running})
            where = ", ".join(f"{s.key} step {s.step}" for s in running) or "no running stage"
            if not any(stage.key == fault.stage for stage in running):
                report.missed.append(f"{fault.label()} ({where})")
            self.worker = Worker(self.env, self.log).start()
            report.kills += 1
            report.events.append(f"SIGKILL at {where}")
        else:
            server = self.postgres if fault.what == "postgres" else self.redis
            seconds = server.restart()
            step = db_retrying(lambda: snapshot(report.pk)[1]["grpo"].step)
            report.events.append(f"{fault.what} restarted at grpo step {step} ({seconds:.1f}s)")

    def _resume(self, report: RunReport, stages: dict) -> None:
        from r1web.runs.models import Run
        from r1web.runs.services import run_resume

        for stage in stages.values():
            if stage.status not in ("failed", "cancelled"):
                continue
            if "stopped responding" in stage.error and report.reaped < report.kills:
                report.reaped += 1
            else:
                report.unplanned.append(f"{stage.key}: {stage.error[:200]}")
            checkpoint = stage.latest_checkpoint()
            after = checkpoint.step if checkpoint else -1
            report.replaced += stage.samples.filter(step__gt=after).count()
            report.resumed_from.setdefault(stage.pk, []).append((after, time.time()))
        db_retrying(lambda: run_resume(run=Run.objects.get(pk=report.pk)))
        report.resumes += 1
        report.events.append("resumed")


# Counting -------------------------------------------------------------------------

Position = tuple[bool, int, int, int]  # probe, step, group, index


def expected_positions(stage) -> set[Position]:
    """Where a finished stage's samples are: a GRPO stage's ``completions_per_step`` per
    step and one probe answer per probe prompt and probe round; an evaluation's k per
    problem."""
    from r1domain.probes import is_probe_step, probe_settings

    if stage.kind != "grpo":
        problems, k = stage.params["limit"], stage.params["k"]
        return {(False, 0, group, index) for group in range(problems) for index in range(k)}
    config, result = stage.trl_config, stage.result or {}
    steps = result.get("steps") or config.get("max_steps", STEPS)
    per_step = result.get("completions_per_step") or config["per_device_train_batch_size"]
    generations = config["num_generations"]
    training = {(False, step, i // generations, i % generations)
                for step in range(1, steps + 1) for i in range(per_step)}
    probes = probe_settings(stage.params)
    rounds = [step for step in range(steps + 1) if is_probe_step(step, probes.every, steps)]
    return training | {(True, step, group, 0) for step in rounds
                       for group in range(probes.prompts)}


def count(report: RunReport) -> None:
    """Fill in ``lost`` and ``duplicated`` from what the database holds."""
    from datetime import UTC, datetime

    from r1web.runs.models import Run

    run = Run.objects.get(pk=report.pk)
    for stage in run.stages.filter(reused_from__isnull=True):
        expected = expected_positions(stage)
        rows = list(stage.samples.values_list("probe", "step", "group", "index", "created_at"))
        stored = {row[:4] for row in rows}
        stale = sum(
            1 for _, step, _, _, created in rows
            for after, asked in report.resumed_from.get(stage.pk, [])
            if step > after and created < datetime.fromtimestamp(asked, UTC)
        )
        report.lost += len(expected - stored)
        report.duplicated += (len(rows) - len(stored)) + len(stored - expected) + stale


# Main -----------------------------------------------------------------------------

def print_report(report: RunReport) -> None:
    state = "finished" if report.finished else f"NOT finished ({report.status})"
    print(f"run {report.index + 1:2} {state}: kills={report.kills} resumes={report.resumes} "
          f"lost={report.lost} duplicated={report.duplicated} replaced={report.replaced} "
          f"in {report.seconds:.0f}s", flush=True)
    print(f"        {'; '.join(report.events)}", flush=True)
    if report.missed:
        print(f"        MISSED (tested nothing): {'; '.join(report.missed)}", flush=True)
    for problem in report.unplanned:
        print(f"        unplanned: {problem}", flush=True)


def chaos(args: argparse.Namespace, folder: Path, stack: contextlib.ExitStack) -> list[RunReport]:
    postgres = Postgres(folder / "pg").start()
    stack.callback(postgres.stop)
    redis = Redis(folder / "redis").start()
    stack.callback(redis.stop)
    env = environment(postgres, redis, folder / "var")
    setup_django(env)
    build_micro_base()
    print(f"chaos: seed {args.seed}, {args.runs} runs, PostgreSQL :{postgres.port}, "
          f"Redis :{redis.port}, work folder {folder}", flush=True)
    driver = Chaos({**os.environ, **env}, postgres, redis, folder / "worker.log")
    stack.callback(driver.close)
    reports = []
    for index, faults in enumerate(plan(args.runs, args.seed)):
        report = RunReport(index)
        report.events.append("plan " + ", ".join(f.label() for f in faults))
        driver.drive(report, faults)
        db_retrying(lambda report=report: count(report))
        print_report(report)
        reports.append(report)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (server and worker logs) at exit")
    args = parser.parse_args(argv)
    # Clean up on Ctrl-C and on SIGTERM, also when started in the background (where a
    # shell has SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(tempfile.mkdtemp(prefix="r1web-chaos-"))
    folder.chmod(0o755)  # the postgres user must reach its cluster folder
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if not args.keep:
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
        reports = chaos(args, folder, stack)
    finished = sum(r.finished for r in reports)
    lost, duplicated = sum(r.lost for r in reports), sum(r.duplicated for r in reports)
    print(f"total {(time.monotonic() - started) / 60:.1f} min, "
          f"kills={sum(r.kills for r in reports)} resumes={sum(r.resumes for r in reports)} "
          f"replaced={sum(r.replaced for r in reports)}")
    # A fault that hit no running stage tested nothing: said, so a run of misses is not
    # read as a pass.
    print(f"faults that hit no running stage: {sum(len(r.missed) for r in reports)}")
    print(f"chaos finished={finished}/{len(reports)} lost={lost} duplicated={duplicated}")
    return 0 if finished == len(reports) and not lost and not duplicated else 1


if __name__ == "__main__":
    sys.exit(main())
