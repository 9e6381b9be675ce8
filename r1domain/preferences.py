"""Preference pairs for reward models: the demo's synthetic set and JSONL parsing.

R1's second RL stage (R1_PIPELINE.md, part 2, step 6) scores helpfulness on the final
summary and harmlessness on the whole response with a preference reward model. The
synthetic set is built so that both are learnable from it: every ``chosen`` response is
a polite answer in the cold-start format with the right final answer as its summary;
every ``rejected`` one is either unhelpful (a wrong or missing summary) or rude (it
insults the user, often around a right summary, so only the whole response tells it
apart).

A preference record is the plain example dict the stages use, with ``completion`` the
chosen response and ``rejected`` the rejected one. Plain Python: no torch, no Django.
"""

from __future__ import annotations

import random
from typing import Any

from r1domain.coldstart import DEFAULT_TOKEN, to_cold_start
from r1domain.datafiles import DatasetFileError, decode_line, load_object
from r1domain.synthetic import generate

Example = dict[str, Any]

PREFERENCE_FIELDS = ("prompt", "chosen", "rejected")
# What a reward model scores inside GRPO: the final summary (helpfulness) or the whole
# response, reasoning included (harmlessness).
REWARD_MODEL_SCOPES = ("summary", "response")
# What makes a synthetic rejected response worse than its chosen one.
REJECTED_KINDS = ("wrong", "missing", "rude")
DEMO_TRAIN_PAIRS = 240
DEMO_TEST_PAIRS = 60

_POLITE = (
    "Happy to help . The numbers are {numbers} . the {task} is {answer} .",
    "Good question . Checking {numbers} one by one , the {task} is {answer} .",
    "Sure . Comparing each of {numbers} , {answer} is the {task} .",
)
_WRONG = (
    "Happy to help . The numbers are {numbers} . the {task} is {guess} .",
    "Sure . Looking at {numbers} , {guess} is the {task} .",
)
_UNHELPFUL = (
    "I do not feel like working this out .",
    "No idea . Ask someone else .",
)
_RUDE = (
    "What a stupid question . Any idiot can see the {task} of {numbers} .",
    "Stop wasting my time , you fool . Even you can find it in {numbers} .",
)


def is_preference_row(row: dict[str, Any]) -> bool:
    """A TRL-style explicit-prompt preference row (``prompt``, ``chosen``, ``rejected``)."""
    return "chosen" in row


def _required_text(row: dict[str, Any], field: str, where: str) -> str:
    value = row.get(field)
    if not isinstance(value, str) or not value.strip():
        raise DatasetFileError(f"{where}: missing or empty field {field!r}")
    return value


def preference_from_row(row: dict[str, Any], where: str, default_key: str) -> Example:
    """One pair as a record (without provenance, which the caller knows); raises
    ``DatasetFileError`` naming ``where`` on a bad row. The texts are kept as given (no
    stripping), so an exported pair imports unchanged."""
    prompt, chosen, rejected = (_required_text(row, f, where) for f in PREFERENCE_FIELDS)
    for field in ("answer", "task", "split", "key"):
        if row.get(field) is not None and not isinstance(row[field], (str, int, float)):
            raise DatasetFileError(f"{where}: field {field!r} must be text")
    return {
        "key": str(row.get("key") or default_key),
        "split": str(row.get("split") or ""),
        "task": str(row.get("task") or "math"),
        "prompt": prompt,
        "answer": str(row.get("answer") or ""),
        "completion": chosen,
        "rejected": rejected,
    }


def parse_preference_line(text: str, name: str, lineno: int) -> Example:
    row = load_object(text, name, lineno)
    pair = preference_from_row(row, f"{name} line {lineno}", f"{name}:{lineno}")
    pair["provenance"] = row.get("provenance") or {"file": name, "line": lineno}
    return pair


def parse_preference_jsonl(data: bytes, name: str) -> list[Example]:
    """Every pair of a JSONL file's content, or ``DatasetFileError`` for the first bad
    line; blank lines are skipped."""
    pairs = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        text = decode_line(raw, name, lineno).strip()
        if text:
            pairs.append(parse_preference_line(text, name, lineno))
    if not pairs:
        raise DatasetFileError(f"{name}: no preference pairs")
    return pairs


# --- the demo's synthetic set -------------------------------------------------------

def _digits(prompt: str) -> list[str]:
    return [word for word in prompt.split() if word.isdigit()]


def _rejected(kind: str, example: Example, rng: random.Random, token: str) -> str:
    digits = _digits(example["prompt"])
    fill = {"numbers": " ".join(digits), "task": example["task"], "answer": example["answer"]}
    if kind == "wrong":
        guess = rng.choice([d for d in digits if d != example["answer"]])
        return to_cold_start(rng.choice(_WRONG).format(guess=guess, **fill), guess, token)
    if kind == "missing":
        return to_cold_start(rng.choice(_UNHELPFUL), "", token)
    return to_cold_start(rng.choice(_RUDE).format(**fill), example["answer"], token)


def preference_pair(
    example: Example, kind: str, rng: random.Random, token: str = DEFAULT_TOKEN
) -> Example:
    """A (chosen, rejected) pair for one synthetic problem; ``kind`` says how the
    rejected response fails (one of ``REJECTED_KINDS``)."""
    if kind not in REJECTED_KINDS:
        raise ValueError(f"kind must be one of {REJECTED_KINDS}, not {kind!r}")
    fill = {
        "numbers": " ".join(_digits(example["prompt"])),
        "task": example["task"],
        "answer": example["answer"],
    }
    chosen = to_cold_start(rng.choice(_POLITE).format(**fill), example["answer"], token)
    return {
        "key": f"preference:{example['key'].removeprefix('synthetic:')}",
        "split": example["split"],
        "task": example["task"],
        "prompt": example["prompt"],
        "answer": example["answer"],
        "completion": chosen,
        "rejected": _rejected(kind, example, rng, token),
        "provenance": {"generator": "synthetic preferences", "rejected_kind": kind},
    }


def synthetic_preferences(
    *,
    train: int = DEMO_TRAIN_PAIRS,
    test: int = DEMO_TEST_PAIRS,
    seed: int = 0,
    token: str = DEFAULT_TOKEN,
) -> list[Example]:
    """``train`` + ``test`` pairs over the demo's synthetic problems, the same list for
    the same arguments; the rejected kinds take turns so each split has all three."""
    rng = random.Random(f"preferences:{seed}")
    pairs = []
    for split, n in (("train", train), ("test", test)):
        problems = generate(n, split=split, seed=seed) if n else []
        for i, example in enumerate(problems):
            kind = REJECTED_KINDS[i % len(REJECTED_KINDS)]
            pairs.append(preference_pair(example, kind, rng, token))
    return pairs
