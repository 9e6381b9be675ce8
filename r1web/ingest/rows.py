"""A completion from elsewhere (the API, a TRL parquet file, a verl dump) as the
``SampleRecord`` r1web's own stages record, so every view reads both the same way.

What the sender did not say is derived as r1web's stages derive it: the reasoning and
the answer from the completion format, the reflection phrases from the reasoning.
"correct" is the sender's when given; otherwise an accuracy-like reward decides (a
function whose name holds "acc" or "correct" scoring 1 or more), then the reference
answer when there is one. A completion with no ``example_key`` gets one made from its
prompt, so the evolution view follows one prompt across steps as it does for r1web's
own runs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from r1domain.base import SampleRecord
from r1domain.formats import CompletionFormat, get_format
from r1domain.reflection import find_reflection_phrases
from r1domain.rewards import is_equivalent

ACCURACY_HINTS = ("acc", "correct")


def accuracy_verdict(rewards: dict[str, float]) -> bool | None:
    """True/False from an accuracy-like reward function's score; None when there is none."""
    for name, value in rewards.items():
        if any(hint in name.lower() for hint in ACCURACY_HINTS):
            return value >= 1.0
    return None


def to_record(sample: dict[str, Any], fmt: CompletionFormat) -> SampleRecord:
    """``sample`` is a dict ``r1web.ingest.schema.sample`` checked."""
    parsed = fmt.parse(sample["completion"])
    correct = sample.get("correct")
    if correct is None:
        correct = accuracy_verdict(sample["rewards"])
    if correct is None:
        reference = sample.get("reference") or ""
        correct = bool(reference) and is_equivalent(parsed.answer, reference)
    format_ok = sample.get("format_ok")
    return SampleRecord(
        step=sample["step"],
        group=sample["group"],
        index=sample["index"],
        prompt=sample["prompt"],
        completion=sample["completion"],
        think=parsed.think,
        answer=parsed.answer,
        reference=sample.get("reference") or "",
        rewards=sample["rewards"],
        reward=sample["reward"],
        advantage=sample["advantage"],
        length_tokens=sample["length_tokens"],
        correct=bool(correct),
        format_ok=parsed.format_ok if format_ok is None else format_ok,
        reflection_phrases=find_reflection_phrases(parsed.think),
        example_key=sample.get("example_key") or prompt_key(sample["prompt"]),
    )


def prompt_key(prompt: str) -> str:
    """A stable key for a prompt text (the same prompt, the same key)."""
    return "prompt:" + hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def to_records(samples: list[dict[str, Any]], format_name: str) -> list[SampleRecord]:
    fmt = get_format(format_name)
    return [to_record(sample, fmt) for sample in samples]
