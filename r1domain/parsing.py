"""Splitting a completion into its reasoning and its answer, as the format reward sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# Strict R1 format: one think block, then one answer block, only whitespace around them.
_STRICT = re.compile(
    r"\A\s*<think>((?:(?!</?think>|</?answer>).)*)</think>\s*"
    r"<answer>((?:(?!</?think>|</?answer>).)*)</answer>\s*\Z",
    re.DOTALL,
)


@dataclass(frozen=True)
class ParsedCompletion:
    think: str
    answer: str
    format_ok: bool


def extract_think(completion: str) -> str:
    """The reasoning: the first think block, or, when the model never closed a block
    ("Assistant: <think>" prompts often leave only the closing tag), all text before
    the answer block."""
    match = _THINK.search(completion)
    if match:
        return match.group(1).strip()
    head = completion.split("<answer>", 1)[0]
    return head.replace("<think>", "").replace("</think>", "").strip()


def extract_answer(completion: str) -> str:
    """The last answer block's content; "" when there is none (no answer, no credit)."""
    answers = _ANSWER.findall(completion)
    return answers[-1].strip() if answers else ""


def format_ok(completion: str) -> bool:
    return _STRICT.match(completion) is not None


def parse_completion(completion: str) -> ParsedCompletion:
    return ParsedCompletion(
        think=extract_think(completion),
        answer=extract_answer(completion),
        format_ok=format_ok(completion),
    )
