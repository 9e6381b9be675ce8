"""Create a run from a recipe, queue it, and optionally wait for it and report."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from django.core.management.base import CommandError

from r1domain.base import ConfigError
from r1domain.progress import TerminalProgress, duration, terminal
from r1web.errors import R1WebCommand
from r1web.runs.models import Stage, Status
from r1web.runs.recipes import RECIPES, get_recipe, launch
from r1web.runs.reports import run_report
from r1web.runs.services import RunError, stages_reap_stale
from r1web.runs.waiting import progress_unit, queue_state

HINT_AFTER = 15  # seconds a stage may sit queued before we say why
HINT_EVERY = 30  # seconds between two looks at the queue
POLL_SECONDS = 2
clock = time.monotonic  # module attributes, so a test can run the clock
sleep = time.sleep


def parse_overrides(pairs: list[str]) -> dict:
    """``--config key=value``: values are read as JSON when they parse, else as text."""
    config = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--config expects key=value, got {pair!r}")
        try:
            config[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            config[key.strip()] = raw
    return config


class Command(R1WebCommand):
    help = "Launch a pipeline recipe (r1-zero, cold-start-sft, r1, distill) as a run of stages."

    def add_arguments(self, parser) -> None:
        parser.add_argument("recipe", choices=list(RECIPES))
        parser.add_argument("--model", default="", help="model (default: the tiny base)")
        parser.add_argument("--dataset", default="", help="dataset name or name@version")
        parser.add_argument("--dataset-version", type=int, default=None,
                            help="the version of --dataset (default: newest)")
        parser.add_argument("--max-steps", type=int, default=None)
        parser.add_argument("--config", action="append", default=[], metavar="FIELD=VALUE",
                            help="a GRPOConfig field by its TRL name (SFTConfig for "
                            "cold-start-sft); repeatable")
        parser.add_argument("--sft-config", action="append", default=[], metavar="FIELD=VALUE",
                            help="an SFTConfig field of the recipe's SFT stages; repeatable")
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="any other parameter of the recipe (see its launch form)")
        parser.add_argument("--eval-k", type=int, default=None, help="samples per eval problem")
        parser.add_argument("--name", default="")
        parser.add_argument("--queue", default="", help="Celery queue (cpu or gpu)")
        parser.add_argument("--wait", action="store_true", help="block until the run ends")
        parser.add_argument("--json", action="store_true", help="print one JSON report")
        parser.add_argument("--start-worker", action="store_true",
                            help="run a Celery worker beside this command while it waits")

    def handle(self, *args, **opts) -> None:
        try:
            run = launch(opts["recipe"], recipe_values(opts), queue=opts["queue"])
        except (RunError, ConfigError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if not opts["json"]:
            self.stdout.write(f"run {run.pk} queued: {run.name}")
        if not opts["wait"]:
            return
        worker = _start_worker(run) if opts["start_worker"] else None
        try:
            self._wait(run)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
        report = run_report(run)
        self.stdout.write(json.dumps(report, indent=None if opts["json"] else 2))
        if report["status"] != "succeeded":
            sys.exit(1)

    def _wait(self, run) -> None:
        """Poll until the run ends, telling the terminal (stderr, so --json stays one
        object on stdout) how each stage goes and why a queued one does not start."""
        watch = RunWatch(terminal(self.stderr))
        try:
            while True:
                stages_reap_stale()
                run.refresh_from_db()
                watch.show(list(run.stages.select_related("run").order_by("position")))
                if run.is_finished():
                    return
                sleep(POLL_SECONDS)
        finally:
            watch.close()


class RunWatch:
    """What ``--wait`` prints: each stage's start and end, the progress of running ones
    (step of total, rate, time left) and, for a stage queued too long, why."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.seen: dict[int, str] = {}  # stage pk -> last status shown
        self.bars: dict[int, TerminalProgress] = {}
        self.queued_since: dict[int, float] = {}
        self.hinted: tuple[float, str] | None = None  # when, and what was said

    def show(self, stages: list[Stage]) -> None:
        for stage in stages:
            if self.seen.get(stage.pk) != stage.status:
                self.seen[stage.pk] = stage.status
                self._status(stage, len(stages))
            if stage.status == Status.RUNNING and stage.total_steps:
                self._bar(stage)(stage.step, stage.total_steps)
        queued = [stage for stage in stages if stage.status == Status.QUEUED]
        if queued:
            self._hint(queued[0])

    def _bar(self, stage: Stage) -> TerminalProgress:
        if stage.pk not in self.bars:
            self.bars[stage.pk] = TerminalProgress(self.stream, stage.name,
                                                   unit=progress_unit(stage), clock=clock)
        return self.bars[stage.pk]

    def _status(self, stage: Stage, count: int) -> None:
        text = f"stage {stage.position + 1}/{count} {stage.name}: {stage.status}"
        if stage.status == Status.RUNNING and stage.worker:
            text += f" on {stage.worker}"
        if stage.is_finished() and stage.started_at and stage.finished_at:
            text += f" in {duration((stage.finished_at - stage.started_at).total_seconds())}"
        if stage.status == Status.FAILED and stage.error:
            text += f": {stage.error.splitlines()[0][:200]}"
        if stage.status == Status.QUEUED:
            self.queued_since[stage.pk] = clock()
        self._write(text)

    def _hint(self, stage: Stage) -> None:
        """Once a stage has waited HINT_AFTER, look at its queue every HINT_EVERY and say
        why it waits whenever the answer changes."""
        now = clock()
        waited = now - self.queued_since.setdefault(stage.pk, now)
        if waited < HINT_AFTER or self.hinted and now - self.hinted[0] < HINT_EVERY:
            return
        text = queue_state(stage).explain(start_hint=" or pass --start-worker")
        if self.hinted is None or text != self.hinted[1]:
            self._write(f"{stage.name} queued for {duration(waited)}: {text}")
        self.hinted = (now, text)

    def _write(self, text: str) -> None:
        line = next(iter(self.bars.values()), None)
        if line is not None:
            line.write(text)  # clears an in-place progress line first
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def recipe_values(opts: dict) -> dict:
    """The command line as the recipe's raw parameter values."""
    recipe = get_recipe(opts["recipe"])
    config_param = "sft_config" if opts["recipe"] == "cold-start-sft" else "grpo_config"
    dataset = opts["dataset"]
    if dataset and opts["dataset_version"]:
        dataset = f"{dataset}@{opts['dataset_version']}"
    values = {
        "model": opts["model"], "dataset": dataset, "max_steps": opts["max_steps"],
        "eval_k": opts["eval_k"], "name": opts["name"], "grpo_config": {}, "sft_config": {},
        **parse_overrides(opts["param"]),
    }
    values["sft_config"] = parse_overrides(opts["sft_config"])
    values[config_param] = {**values[config_param], **parse_overrides(opts["config"])}
    names = {p.name for p in recipe.params}
    unknown = sorted(k for k, v in values.items() if k not in names and v not in (None, "", {}))
    if unknown:
        raise CommandError(f"recipe {recipe.name} takes no {', '.join(unknown)}")
    return {k: v for k, v in values.items() if k in names}


def _start_worker(run) -> subprocess.Popen:
    queues = ",".join(sorted(set(run.stages.values_list("queue", flat=True))))
    command = [sys.executable, "-m", "celery", "-A", "r1web", "worker", "-Q", queues,
               "--concurrency", "1", "--pool", "solo", "--loglevel", "WARNING"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)
