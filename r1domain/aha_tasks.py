"""The demo task, repeated addition ("Add 7 to 12 four times"), and the judge of a check.

A tiny model guesses start + step * times in one shot poorly, but adds by steps well
("1/4:12+7=19 2/4:19+7=26 ..."): each step copies only the total it just wrote and one
number of the prompt. A check that redoes a guessed sum by steps therefore pays: it
finds the wrong guess and the revision fixes it. (A first design, the sum of four to
seven distinct digits, failed: in a three-minute build the model never learned to copy
the next digit from the prompt, so its checks were wrong and GRPO dropped them.)

``check_outcome`` decides from one completion whether a reflection phrase followed a
wrong intermediate result (a guessed sum or a step) and the final answer was then right:
an *effective* check, as opposed to a keyword.

The split of a problem is a stable hash of the problem (as in ``synthetic``), so no test
problem is ever a train problem, whatever the seed. Torch-free.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from r1domain.parsing import parse_completion
from r1domain.reflection import REFLECTION_PATTERN

Example = dict[str, Any]

TASK = "sum"  # not a math task: exact-match accuracy, no math_verify cost
# What a tiny base built for this task records in its tiny_base.json ("task"): a base
# built before it (the largest or smallest of a list) cannot do the demo.
BASE_TASK = "repeated-addition"
TEST_SHARE_PERCENT = 20

_STEP = re.compile(r"(\d+)\s*\+\s*(\d+)\s*=\s*(\d+)")
_GUESS = re.compile(r"the sum is\s*(\d+)")


def _wrong_claims(text: str, answer: int) -> int:
    """Wrong intermediate results in ``text``: a guessed sum that is not the answer, or a
    step ``a + b = c`` with c != a + b."""
    wrong = sum(int(c) != int(a) + int(b) for a, b, c in _STEP.findall(text))
    wrong += sum(int(g) != answer for g in _GUESS.findall(text))
    return wrong


def check_outcome(completion: str, answer: str) -> str:
    """"none" (no reflection phrase in the reasoning), "effective" (a wrong intermediate
    result before the first phrase, and the final answer right), or "shallow"."""
    parsed = parse_completion(completion)
    match = REFLECTION_PATTERN.search(parsed.think)
    if match is None:
        return "none"
    before = parsed.think[: match.start()]
    right = parsed.answer.strip() == str(answer).strip()
    return "effective" if right and _wrong_claims(before, int(answer)) else "shallow"


TIMES = {3: "three", 4: "four", 5: "five"}
REPEAT_PROMPT = "Add {step} to {start} {times} times"


def make_repeat_example(start: int, step: int, times: int) -> Example:
    key = f"{start}-{step}-{times}"
    bucket = int.from_bytes(hashlib.sha256(f"repeat:{key}".encode()).digest()[:4], "big") % 100
    return {
        "key": f"aha:repeat:{key}",
        "prompt": REPEAT_PROMPT.format(step=step, start=start, times=TIMES[times]),
        "answer": str(start + step * times),
        "task": TASK,
        "split": "test" if bucket < TEST_SHARE_PERCENT else "train",
        "start": start, "step": step, "times": times,
    }


def generate_repeat(n: int, *, split: str, seed: int = 0) -> list[Example]:
    """Up to ``n`` problems of ``split`` (start 1..40, step 2..9, three to five times);
    the whole split, shuffled by seed, when it has fewer."""
    every = [
        make_repeat_example(a, b, t)
        for a in range(1, 41) for b in range(2, 10) for t in TIMES
    ]
    chosen = [e for e in every if e["split"] == split]
    random.Random(f"repeat:{seed}:{split}").shuffle(chosen)
    return chosen[:n]
