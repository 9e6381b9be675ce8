"""Two demo runs on two workers of one host at once, against one run alone.

Each run is ``manage.py run_recipe r1-zero --wait --json --start-worker`` on a queue of
its own (so each has its own worker process), as a user runs it. Workers size their torch
threads to their share of the host's cores (``workers/stages/runtime.py``); before that,
two runs at once on 2 cores took 7x their time alone (816 s against 117 s). Run it with
nothing else computing:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/shared_cores.py

An evaluation already computed is reused, so each run evaluates a slightly different
number of held-out problems (the lone run the fewest: the comparison favours it). Prints
each run's time and ends with ``ratio together/alone <worst>``; target at most 2.5.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start(queue: str, eval_limit: int, extra: list[str]) -> tuple[subprocess.Popen, float]:
    command = [sys.executable, "manage.py", "run_recipe", "r1-zero", "--wait", "--json",
               "--start-worker", "--queue", queue, "--param", f"eval_limit={eval_limit}",
               "--name", f"shared-cores {queue}", *extra]
    env = {**os.environ, "R1WEB_QUEUES": f"cpu,gpu,{queue}"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    return process, time.monotonic()


def finish(process: subprocess.Popen, started: float) -> float:
    out, err = process.communicate()
    elapsed = time.monotonic() - started
    lines = out.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    if report.get("status") != "succeeded":
        raise SystemExit(f"a run did not succeed: {lines[-1:] or err[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=[],
                        help="an extra run_recipe argument for every run (repeatable)")
    args = parser.parse_args()
    # A new database (as its docstring's DATABASE_URL may name) is made ready first.
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT,
                   check=True)
    tag = uuid.uuid4().hex[:6]
    alone = finish(*start(f"alone-{tag}", 98, args.extra))
    print(f"alone:    {alone:6.1f} s", flush=True)
    pair = [start(f"pair{i}-{tag}", 99 + i, args.extra) for i in range(2)]
    together = [finish(*run) for run in pair]
    for i, seconds in enumerate(together):
        print(f"together: {seconds:6.1f} s  ({seconds / alone:.2f}x alone)  run {i + 1}")
    print(f"ratio together/alone {max(together) / alone:.2f}")


if __name__ == "__main__":
    main()
