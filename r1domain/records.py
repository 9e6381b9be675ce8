"""Turning one sampled completion into the ``SampleRecord`` the trace browser shows.

GRPO and evaluation both record samples; building the record in one place keeps their
notion of "correct", "format ok" and "reflection" identical.
"""

from __future__ import annotations

from r1domain.base import SampleRecord
from r1domain.formats import CompletionFormat
from r1domain.reflection import find_reflection_phrases
from r1domain.rewards import is_equivalent


def build_record(
    *,
    step: int,
    group: int,
    index: int,
    prompt: str,
    completion: str,
    reference: str,
    task: str,
    length_tokens: int,
    rewards: dict[str, float] | None = None,
    reward: float | None = None,
    advantage: float = 0.0,
    example_key: str = "",
    correct: bool | None = None,
    completion_format: CompletionFormat | None = None,
) -> SampleRecord:
    """``correct`` may be passed when an accuracy reward already decided it."""
    parsed = (completion_format or CompletionFormat()).parse(completion)
    if correct is None:
        correct = is_equivalent(parsed.answer, reference, task)
    rewards = rewards if rewards is not None else {}
    return SampleRecord(
        step=step,
        group=group,
        index=index,
        prompt=prompt,
        completion=completion,
        think=parsed.think,
        answer=parsed.answer,
        reference=reference,
        rewards=rewards,
        reward=float(sum(rewards.values())) if reward is None else float(reward),
        advantage=float(advantage),
        length_tokens=int(length_tokens),
        correct=bool(correct),
        format_ok=parsed.format_ok,
        reflection_phrases=find_reflection_phrases(parsed.think),
        example_key=example_key,
    )
