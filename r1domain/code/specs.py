"""The tests of a programming problem, in the three shapes public code sets use.

* ``humaneval``: OpenAI's HumanEval: the function's ``prompt`` (signature and
  docstring), a ``test`` defining ``check(candidate)``, and the ``entry_point`` it is
  called with. One test: all of ``check``'s assertions run in one process.
* ``stdio``: standard input and expected standard output per case (APPS, CodeContests,
  open-r1's ``verification_info``), compared ``exact``, ``whitespace`` or ``float``.
* ``calls``: a function called with arguments per case, its return value compared with
  the expected one (APPS's ``fn_name`` problems).

A code example stores its tests as JSON in the ``answer`` column (``CodeTests.to_json``),
so they reach reward functions the way a math example's reference answer does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from r1domain.code.compare import COMPARISONS, DEFAULT_TOLERANCE, WHITESPACE
from r1domain.errors import R1WebError

FORMATS = ("humaneval", "stdio", "calls")
LANGUAGES = ("python", "cpp")
LANGUAGE_ALIASES = {"python3": "python", "py": "python", "c++": "cpp", "cpp17": "cpp"}
MAX_CASES = 10_000


class CodeSpecError(R1WebError):
    """Tests that cannot be used; the message names the field."""


@dataclass(frozen=True)
class StdioCase:
    input: str
    output: str


@dataclass(frozen=True)
class CallCase:
    args: tuple[Any, ...]
    expected: Any


@dataclass(frozen=True)
class HumanEvalTests:
    prompt: str
    test: str
    entry_point: str
    language: str = "python"
    format: str = "humaneval"

    def count(self) -> int:
        return 1

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "language": self.language, "prompt": self.prompt,
                "test": self.test, "entry_point": self.entry_point}


@dataclass(frozen=True)
class StdioTests:
    cases: tuple[StdioCase, ...]
    comparison: str = WHITESPACE
    tolerance: float = DEFAULT_TOLERANCE
    language: str = "python"
    format: str = "stdio"

    def count(self) -> int:
        return len(self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "language": self.language, "comparison": self.comparison,
            "tolerance": self.tolerance,
            "cases": [{"input": case.input, "output": case.output} for case in self.cases],
        }


@dataclass(frozen=True)
class CallTests:
    fn_name: str
    cases: tuple[CallCase, ...]
    tolerance: float | None = None
    # APPS writes a single return value x as [x]; its judge accepts either.
    wrapped: bool = False
    language: str = "python"
    format: str = "calls"

    def count(self) -> int:
        return len(self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "language": self.language, "fn_name": self.fn_name,
            "tolerance": self.tolerance, "wrapped": self.wrapped,
            "cases": [{"args": list(case.args), "expected": case.expected}
                      for case in self.cases],
        }


CodeTests = HumanEvalTests | StdioTests | CallTests


def to_json(tests: CodeTests) -> str:
    """The stored form: canonical (sorted keys), so equal tests hash equal."""
    return json.dumps(tests.to_dict(), sort_keys=True, ensure_ascii=False, allow_nan=False)


@lru_cache(maxsize=256)
def load_tests(text: str) -> CodeTests:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise CodeSpecError("the tests are not valid JSON") from None
    return parse_tests(value)


def parse_tests(value: Any) -> CodeTests:
    if not isinstance(value, dict):
        raise CodeSpecError("the tests must be an object")
    kind = value.get("format")
    if kind == "humaneval":
        return HumanEvalTests(
            prompt=_text(value, "prompt", allow_empty=True), test=_text(value, "test"),
            entry_point=_identifier(value, "entry_point"),
            language=_language(value, only=("python",)),
        )
    if kind == "stdio":
        return stdio_tests(
            _cases(value), comparison=value.get("comparison", WHITESPACE),
            tolerance=value.get("tolerance", DEFAULT_TOLERANCE), language=_language(value),
        )
    if kind == "calls":
        return call_tests(
            _identifier(value, "fn_name"), _cases(value), tolerance=value.get("tolerance"),
            wrapped=value.get("wrapped", False), language=_language(value, only=("python",)),
        )
    raise CodeSpecError(f"field 'format' must be one of {', '.join(FORMATS)}, not {kind!r}")


def stdio_tests(
    cases: list[Any], *, comparison: Any = WHITESPACE, tolerance: Any = DEFAULT_TOLERANCE,
    language: str = "python",
) -> StdioTests:
    """Input/output cases, each ``{"input": str, "output": str}``."""
    if comparison not in COMPARISONS:
        raise CodeSpecError(
            f"field 'comparison' must be one of {', '.join(COMPARISONS)}, not {comparison!r}"
        )
    parsed = []
    for number, case in enumerate(cases, start=1):
        if not isinstance(case, dict):
            raise CodeSpecError(f"test case {number} must be an object")
        parsed.append(StdioCase(
            input=_case_text(case, "input", number), output=_case_text(case, "output", number)
        ))
    return StdioTests(
        cases=tuple(parsed), comparison=comparison, tolerance=_tolerance(tolerance),
        language=language,
    )


def call_tests(
    fn_name: str, cases: list[Any], *, tolerance: Any = None, wrapped: Any = False,
    language: str = "python",
) -> CallTests:
    """Function-call cases, each ``{"args": [...], "expected": value}``."""
    if not isinstance(wrapped, bool):
        raise CodeSpecError("field 'wrapped' must be true or false")
    parsed = []
    for number, case in enumerate(cases, start=1):
        if not isinstance(case, dict) or not isinstance(case.get("args"), list):
            raise CodeSpecError(f"test case {number} needs 'args', a list")
        if "expected" not in case:
            raise CodeSpecError(f"test case {number} needs 'expected'")
        parsed.append(CallCase(args=tuple(case["args"]), expected=case["expected"]))
    return CallTests(
        fn_name=fn_name, cases=tuple(parsed),
        tolerance=None if tolerance is None else _tolerance(tolerance), wrapped=wrapped,
        language=language,
    )


def normalize_language(value: Any) -> str:
    if not isinstance(value, str):
        raise CodeSpecError("field 'language' must be text")
    language = LANGUAGE_ALIASES.get(value.strip().lower(), value.strip().lower())
    if language not in LANGUAGES:
        raise CodeSpecError(
            f"field 'language' must be one of {', '.join(LANGUAGES)}, not {value!r}"
        )
    return language


def _language(value: dict[str, Any], only: tuple[str, ...] = LANGUAGES) -> str:
    language = normalize_language(value.get("language", "python"))
    if language not in only:
        raise CodeSpecError(f"{value.get('format')} tests run {', '.join(only)} programs only")
    return language


def _text(value: dict[str, Any], field: str, *, allow_empty: bool = False) -> str:
    text = value.get(field)
    if not isinstance(text, str) or (not allow_empty and not text.strip()):
        raise CodeSpecError(f"missing or empty field {field!r}")
    return text


def _identifier(value: dict[str, Any], field: str) -> str:
    name = _text(value, field).strip()
    if not name.isidentifier():
        raise CodeSpecError(f"field {field!r} must be a Python name, not {name[:50]!r}")
    return name


def _cases(value: dict[str, Any]) -> list[Any]:
    cases = value.get("cases")
    if not isinstance(cases, list) or not cases:
        raise CodeSpecError("field 'cases' must be a non-empty list")
    if len(cases) > MAX_CASES:
        raise CodeSpecError(f"more than {MAX_CASES:,} test cases")
    return cases


def _case_text(case: dict[str, Any], field: str, number: int) -> str:
    text = case.get(field)
    if isinstance(text, list) and all(isinstance(line, str) for line in text):
        text = "\n".join(text)  # some sets store a case's lines as a list
    if not isinstance(text, str):
        raise CodeSpecError(f"test case {number} needs {field!r} as text")
    return text


def _tolerance(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CodeSpecError("field 'tolerance' must be a number")
    if not math.isfinite(value) or value < 0:
        raise CodeSpecError("field 'tolerance' must be a finite number, 0 or more")
    return float(value)
