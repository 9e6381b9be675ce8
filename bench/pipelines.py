"""The R1 and distillation recipes with their demo defaults, timed end to end.

Each recipe runs as a user runs it: ``manage.py run_recipe RECIPE --wait --json
--start-worker`` (a real Celery worker process, the database and broker the environment
names). Run it with nothing else training: two trainings on 2 cores slow each other
several times over. Prints one line per recipe and the numbers the issue asks for:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/pipelines.py

Targets on the 2-core machine: r1 at most 20 minutes, distill at most 15; the format
rate after r1's cold-start SFT at least 0.95 (``cold-start format <x>``); the distilled
student's held-out pass@1 at least 10 points above its base (``distill gain <points>``,
printed with what GRPO on the same student gained).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MINUTES = {"r1": 20, "distill": 15}


def run_recipe(recipe: str, extra: list[str]) -> tuple[dict, float]:
    command = [sys.executable, "manage.py", "run_recipe", recipe, "--wait", "--json",
               "--start-worker", *extra]
    started = time.monotonic()
    done = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise SystemExit(f"{recipe} printed nothing: {done.stderr[-2000:]}")
    return json.loads(lines[-1]), elapsed


def _stage_line(stage: dict) -> str:
    datasets = ", ".join(f"{d['version']} ({d['examples']})"
                         for d in (stage.get("outputs") or {}).get("datasets", []))
    return f"  {stage['kind']:18} {stage['status']:9} {stage.get('name', '')}" + (
        f" -> {datasets}" if datasets else "")


def report(recipe: str, result: dict, elapsed: float) -> None:
    print(f"{recipe}: {result['status']} in {elapsed / 60:.1f} min "
          f"(target {TARGET_MINUTES.get(recipe, '?')} min)")
    for stage in result["stages"]:
        print(_stage_line(stage))
    for label, scores in result["eval"].items():
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in scores.items()}
        print(f"  eval {label:13} {json.dumps(shown)}")
    evals = result["eval"]
    if "cold_start" in evals:
        print(f"cold-start format {evals['cold_start']['format_rate']:.3f} (target 0.95)")
    if {"student_base", "distilled", "student_rl"} <= set(evals):
        base = evals["student_base"]["pass@1"]
        print(f"distill gain {100 * (evals['distilled']['pass@1'] - base):+.1f} points "
              f"(target +10; GRPO on the same student "
              f"{100 * (evals['student_rl']['pass@1'] - base):+.1f})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", default=["r1", "distill"])
    parser.add_argument("--extra", action="append", default=[],
                        help="an extra run_recipe argument (repeatable)")
    args = parser.parse_args(argv)
    for recipe in args.recipes:
        result, elapsed = run_recipe(recipe, args.extra)
        report(recipe, result, elapsed)
        print(f"minutes {recipe}={elapsed / 60:.1f}")


if __name__ == "__main__":
    main()
