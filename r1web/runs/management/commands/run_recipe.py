"""Create a run from a recipe, queue it, and optionally wait for it and report."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from r1web.runs.recipes import ColdStartSFTArgs, R1ZeroArgs, cold_start_sft_create, r1_zero_create
from r1web.runs.reports import run_report
from r1web.runs.services import RunError, stages_reap_stale
from workers.stages.base import ConfigError

NO_WORKER_HINT_AFTER = 30  # seconds a stage may sit queued before we say why


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


class Command(BaseCommand):
    help = "Launch a pipeline recipe (r1-zero) as a run of Celery stages."

    def add_arguments(self, parser) -> None:
        parser.add_argument("recipe", choices=["r1-zero", "cold-start-sft"])
        parser.add_argument("--model", default="", help="model directory (default: the tiny base)")
        parser.add_argument("--dataset", default="", help="dataset name (default: synthetic tasks)")
        parser.add_argument("--dataset-version", type=int, default=None,
                            help="cold-start-sft: the version to train on (default: newest)")
        parser.add_argument("--max-steps", type=int, default=None)
        parser.add_argument("--config", action="append", default=[], metavar="FIELD=VALUE",
                            help="any GRPOConfig (or SFTConfig) field by its TRL name; repeatable")
        parser.add_argument("--eval-k", type=int, default=None, help="samples per eval problem")
        parser.add_argument("--name", default="")
        parser.add_argument("--queue", default="", help="Celery queue (cpu or gpu)")
        parser.add_argument("--wait", action="store_true", help="block until the run ends")
        parser.add_argument("--json", action="store_true", help="print one JSON report")
        parser.add_argument("--start-worker", action="store_true",
                            help="run a Celery worker beside this command while it waits")

    def handle(self, *args, **opts) -> None:
        try:
            run = _create(opts)
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
        queued_since = time.monotonic()
        hinted = False
        while True:
            stages_reap_stale()
            run.refresh_from_db()
            if run.is_finished():
                return
            queued = run.stages.filter(status="queued").exists()
            if not queued:
                queued_since = time.monotonic()
            elif not hinted and time.monotonic() - queued_since > NO_WORKER_HINT_AFTER:
                self.stderr.write(
                    "a stage has been queued for 30s: is a worker running? "
                    "(celery -A r1web worker -Q cpu, or pass --start-worker)"
                )
                hinted = True
            time.sleep(2)


def _create(opts: dict):
    common = dict(model=opts["model"], max_steps=opts["max_steps"], name=opts["name"],
                  queue=opts["queue"], trl_config=parse_overrides(opts["config"]))
    if opts["recipe"] == "cold-start-sft":
        if not opts["dataset"]:
            raise CommandError("cold-start-sft needs --dataset (an SFT dataset, e.g. a frozen queue)")
        args = ColdStartSFTArgs(dataset=opts["dataset"], version=opts["dataset_version"], **common)
        return cold_start_sft_create(args=args)
    return r1_zero_create(args=R1ZeroArgs(dataset=opts["dataset"], eval_k=opts["eval_k"], **common))


def _start_worker(run) -> subprocess.Popen:
    queues = ",".join(sorted(set(run.stages.values_list("queue", flat=True))))
    command = [sys.executable, "-m", "celery", "-A", "r1web", "worker", "-Q", queues,
               "--concurrency", "1", "--pool", "solo", "--loglevel", "WARNING"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)
