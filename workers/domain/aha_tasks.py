"""Experimental "aha" task: the sum of several one-digit numbers (torch-free).

A tiny model guesses a sum of 4 to 7 digits in one shot poorly, but adds them well one
step at a time ("3 + 5 = 8 . 8 + 7 = 15 ."). A check that redoes a guessed sum by
steps therefore pays: it finds the wrong guess and the revision fixes it.

``check_outcome`` decides from one completion whether a reflection phrase followed a
wrong intermediate result (a guessed sum or a step) and the final answer was then right:
an *effective* check, as opposed to a keyword.

The split of a problem is a stable hash of the problem (as in ``synthetic``), so no test
problem is ever a train problem, whatever the seed.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from workers.domain.parsing import parse_completion
from workers.domain.reflection import REFLECTION_PATTERN

Example = dict[str, Any]

TASK = "sum"  # not a math task: exact-match accuracy, no math_verify cost
PROMPT = "Find the sum of {numbers}"
TEST_SHARE_PERCENT = 20
DEFAULT_LENGTHS = (4, 5, 6, 7)

_STEP = re.compile(r"(\d+)\s*\+\s*(\d+)\s*=\s*(\d+)")
_GUESS = re.compile(r"the sum is\s*(\d+)")


def split_of(digits: tuple[int, ...]) -> str:
    token = f"sum:{'-'.join(map(str, digits))}".encode()
    bucket = int.from_bytes(hashlib.sha256(token).digest()[:4], "big") % 100
    return "test" if bucket < TEST_SHARE_PERCENT else "train"


def make_example(digits: tuple[int, ...]) -> Example:
    return {
        "key": f"aha:sum:{'-'.join(map(str, digits))}",
        "prompt": PROMPT.format(numbers=" ".join(map(str, digits))),
        "answer": str(sum(digits)),
        "task": TASK,
        "split": split_of(digits),
        "digits": list(digits),
    }


def generate(
    n: int, *, split: str, seed: int = 0, lengths: tuple[int, ...] = DEFAULT_LENGTHS
) -> list[Example]:
    """``n`` distinct problems of ``split``: distinct digits 1..9, so the step-by-step
    chain can find "the digit after the last one added" unambiguously in the prompt."""
    rng = random.Random(f"aha:{seed}:{split}")
    examples: dict[str, Example] = {}
    attempts = 0
    while len(examples) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(f"cannot draw {n} distinct {split} problems")
        digits = tuple(rng.sample(range(1, 10), rng.choice(lengths)))
        example = make_example(digits)
        if example["split"] == split:
            examples.setdefault(example["key"], example)
    return list(examples.values())


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


# Second design: repeated addition. The chain copies only the previous total (just
# written) and one fixed number of the prompt, so a tiny model learns it quickly; the
# one-shot answer needs start + step * times at once.
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
