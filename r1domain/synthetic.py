"""Seeded synthetic reasoning tasks small enough for a ~1M-parameter model.

Problems are short lists of distinct digits; the task asks for the largest or the
smallest. A tiny transformer can learn both exactly, and they generalise to lists it
never saw, which is what lets the demo measure RL gains on a held-out split.

The split of a problem is a function of the problem alone (a stable hash), not of the
seed: whatever seeds and sizes are drawn, no test problem is ever a train problem, and
the tiny base model (trained on train problems) never sees a test problem either.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

Example = dict[str, Any]

TASKS: dict[str, tuple[str, Any]] = {
    "largest": ("Find the largest of {numbers}", max),
    "smallest": ("Find the smallest of {numbers}", min),
}
SPLITS = ("train", "test")
TEST_SHARE_PERCENT = 20


def split_of(task: str, digits: tuple[int, ...]) -> str:
    token = f"{task}:{'-'.join(map(str, digits))}".encode()
    bucket = int.from_bytes(hashlib.sha256(token).digest()[:4], "big") % 100
    return "test" if bucket < TEST_SHARE_PERCENT else "train"


def make_example(task: str, digits: tuple[int, ...]) -> Example:
    template, solve = TASKS[task]
    numbers = " ".join(map(str, digits))
    return {
        "key": f"synthetic:{task}:{'-'.join(map(str, digits))}",
        "prompt": template.format(numbers=numbers),
        "answer": str(solve(digits)),
        "task": task,
        "split": split_of(task, digits),
    }


def _draw(rng: random.Random, tasks: tuple[str, ...], lengths: tuple[int, ...]) -> Example:
    task = rng.choice(tasks)
    digits = tuple(rng.sample(range(10), rng.choice(lengths)))
    return make_example(task, digits)


def generate(
    n: int,
    *,
    split: str,
    seed: int = 0,
    tasks: tuple[str, ...] = tuple(TASKS),
    lengths: tuple[int, ...] = (4, 5),
) -> list[Example]:
    """``n`` distinct problems of ``split``, the same list for the same arguments."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown synthetic task(s): {', '.join(sorted(unknown))}")
    # Seeding by split keeps train and test draws independent of each other.
    rng = random.Random(f"{seed}:{split}")
    examples: dict[str, Example] = {}
    attempts = 0
    while len(examples) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(f"cannot draw {n} distinct {split} problems from these tasks")
        example = _draw(rng, tasks, lengths)
        if example["split"] == split:
            examples.setdefault(example["key"], example)
    return list(examples.values())
