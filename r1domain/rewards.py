"""Rule rewards (R1-Zero: no neural reward model), in TRL's reward-function shape.

Each function is ``f(prompts, completions, **kwargs) -> list[float]``; TRL passes the
dataset's other columns (``answer``, ``task``, ``language``...) as keyword lists aligned
with ``completions``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from r1domain.base import ConfigError

if TYPE_CHECKING:
    from r1domain.code.judge import CodeResult

RewardFunc = Callable[..., list[float]]

MATH_TASKS = frozenset({"math", "gsm8k"})


def _text(completion: Any) -> str:
    """TRL hands conversational completions as message lists; plain ones as strings."""
    if isinstance(completion, list):
        return "".join(message.get("content", "") for message in completion)
    return str(completion)


def _timeout() -> int | None:
    # math_verify times out with SIGALRM, which only the main thread may set; a thread
    # pool worker runs without the guard rather than crashing.
    return 5 if threading.current_thread() is threading.main_thread() else None


@lru_cache(maxsize=4096)
def _parse_math(text: str) -> tuple:
    from math_verify import parse

    # Plain numbers need no LaTeX delimiters; parse() accepts "1/2", "0.5", "$\frac12$".
    return tuple(parse(text, parsing_timeout=_timeout()))


def _math_equivalent(a: str, b: str) -> bool:
    from math_verify import verify

    if a.replace(",", "") == b.replace(",", ""):
        return True
    gold, pred = _parse_math(b), _parse_math(a)
    if not gold or not pred:
        return False
    return bool(verify(list(gold), list(pred), timeout_seconds=_timeout()))


def is_equivalent(a: str, b: str, task: str = "math") -> bool:
    """Are two final answers the same? Math: mathematical equivalence ("0.5" == "1/2");
    every other task: exact match after stripping whitespace."""
    a, b = a.strip(), b.strip()
    if not a or not b:
        return False
    if task in MATH_TASKS:
        return _math_equivalent(a, b)
    return a == b


def _column(kwargs: dict, name: str, size: int, default: str) -> list[str]:
    values = kwargs.get(name)
    if values is None:
        return [default] * size
    return [default if v is None else str(v) for v in values]


def _parsed(completions: Sequence, kwargs: dict) -> list:
    """Each completion parsed in the format its prompt asked for (``completion_format``
    column; R1-Zero's tags when absent)."""
    from r1domain.formats import from_column

    formats = _column(kwargs, "completion_format", len(completions), "")
    return [from_column(f).parse(_text(c)) for c, f in zip(completions, formats)]


def accuracy(prompts: Sequence, completions: Sequence, **kwargs: Any) -> list[float]:
    """1.0 when the final answer (the <answer> block, or a cold-start summary) matches
    the ``answer`` column, else 0.0."""
    size = len(completions)
    references = _column(kwargs, "answer", size, "")
    tasks = _column(kwargs, "task", size, "math")
    return [
        float(is_equivalent(parsed.answer, ref, task))
        for parsed, ref, task in zip(_parsed(completions, kwargs), references, tasks)
    ]


def format(prompts: Sequence, completions: Sequence, **kwargs: Any) -> list[float]:
    """1.0 for exactly <think>...</think> <answer>...</answer> (or, for a cold-start
    format, token reasoning token summary), else 0.0."""
    return [float(parsed.format_ok) for parsed in _parsed(completions, kwargs)]


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")


def language_shares(text: str) -> dict[str, int]:
    """Word counts per language: each CJK character counts as one Chinese word (Chinese
    has no spaces), each run of Latin letters as one English word. Digits and symbols
    belong to no language."""
    return {"zh": len(_CJK.findall(text)), "en": len(_LATIN_WORD.findall(text))}


def language_share(text: str, language: str) -> float:
    counts = language_shares(text)
    total = sum(counts.values())
    return counts.get(language, 0) / total if total else 0.0


def language_consistency(prompts: Sequence, completions: Sequence, **kwargs: Any) -> list[float]:
    """R1's language-consistency reward: the share of target-language words in the CoT.

    The target comes from a ``language`` column ("en" or "zh"), English by default.
    """
    languages = _column(kwargs, "language", len(completions), "en")
    return [
        language_share(parsed.think, lang)
        for parsed, lang in zip(_parsed(completions, kwargs), languages)
    ]


CODE_TASK = "code"


@lru_cache(maxsize=2048)
def _judged(completion: str, tests_json: str, completion_format: str) -> CodeResult:
    from r1domain.code.judge import judge_completion
    from r1domain.code.specs import load_tests

    return judge_completion(
        completion, load_tests(tests_json), completion_format=completion_format
    )


def code_results(completions: Sequence[Any], **kwargs: Any) -> list[CodeResult | None]:
    """Each completion's program judged against its example's tests (the ``answer``
    column of a ``code`` example), all at once in the sandbox pool; None for an example
    of another task. Results are remembered, so ``code_pass_rate`` and ``code_passed``
    in one run, and whoever records the per-test outcomes after them, run each program
    once."""
    from r1domain.sandbox import shared_pool

    size = len(completions)
    tests = _column(kwargs, "answer", size, "")
    tasks = _column(kwargs, "task", size, "math")
    formats = _column(kwargs, "completion_format", size, "")

    def judge(index: int) -> CodeResult | None:
        if tasks[index] != CODE_TASK:
            return None
        return _judged(_text(completions[index]), tests[index], formats[index])

    return shared_pool().map(judge, range(size))


def code_pass_rate(
    prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
) -> list[float]:
    """The share of its tests the completion's program passes (0.0 with no program, or
    for an example that is not a code problem)."""
    return [r.pass_rate if r else 0.0 for r in code_results(completions, **kwargs)]


def code_passed(
    prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
) -> list[float]:
    """1.0 when the completion's program passes every test of its problem, else 0.0."""
    return [float(r.all_passed) if r else 0.0 for r in code_results(completions, **kwargs)]


REWARD_FUNCS: dict[str, RewardFunc] = {
    "accuracy": accuracy,
    "format": format,
    "language_consistency": language_consistency,
    "code_pass_rate": code_pass_rate,
    "code_passed": code_passed,
}


def get_reward_funcs(names: Sequence[str]) -> list[RewardFunc]:
    """The registered functions, in order; an unknown name is a configuration error."""
    unknown = [name for name in names if name not in REWARD_FUNCS]
    if unknown:
        known = ", ".join(sorted(REWARD_FUNCS))
        raise ConfigError(f"unknown reward function(s): {', '.join(unknown)} (known: {known})")
    if not names:
        raise ConfigError("at least one reward function is required")
    return [REWARD_FUNCS[name] for name in names]
