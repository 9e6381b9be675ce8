"""Judging a program against its tests in the sandbox: one outcome per test.

All of a program's tests run in one sandbox (one process start; the cases are forked
from it), and the outcomes keep what a reviewer needs: which test, how it ended, what
was expected, what came out, and the head of standard error.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace
from typing import Any

from r1domain.code.compare import outputs_match, values_match
from r1domain.code.programs import extract_program
from r1domain.code.specs import CallTests, CodeTests, HumanEvalTests, StdioTests
from r1domain.sandbox import Case, Ending, Limits, Status, Verdict, excerpt, run_cases

EXCERPT = 500
NO_PROGRAM = "no program"


@dataclass(frozen=True)
class TestOutcome:
    """How one test went. ``status`` ``ok`` means passed."""

    index: int
    status: Status
    reason: str = ""
    expected: str = ""
    actual: str = ""
    stderr: str = ""
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status is Status.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "test": self.index,
            "outcome": "passed" if self.passed else str(self.status),
            "reason": self.reason,
            "expected": self.expected,
            "actual": self.actual,
            "stderr": self.stderr,
            "duration_s": round(self.duration_s, 4),
        }


@dataclass(frozen=True)
class CodeResult:
    """A program's outcomes on every test of a problem."""

    outcomes: tuple[TestOutcome, ...]
    reason: str = ""  # why it did not pass: the first failing test's reason

    @property
    def passed(self) -> int:
        return sum(outcome.passed for outcome in self.outcomes)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def all_passed(self) -> bool:
        return bool(self.outcomes) and self.passed == self.total

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "total": self.total, "pass_rate": self.pass_rate,
            "reason": self.reason, "tests": [outcome.as_dict() for outcome in self.outcomes],
        }


def no_program(tests: CodeTests) -> CodeResult:
    outcomes = tuple(
        TestOutcome(index, Status.NO_PROGRAM, NO_PROGRAM) for index in range(tests.count())
    )
    return CodeResult(outcomes, NO_PROGRAM)


def judge_completion(
    completion: str, tests: CodeTests, *, completion_format: str | None = None,
    limits: Limits | None = None,
) -> CodeResult:
    """Take the program from a completion and judge it; no program scores 0."""
    return judge_program(extract_program(completion, completion_format), tests, limits=limits)


def judge_program(
    program: str | None, tests: CodeTests, *, limits: Limits | None = None
) -> CodeResult:
    if program is None or not program.strip():
        return no_program(tests)
    if isinstance(tests, HumanEvalTests):
        outcomes = [_humaneval(program, tests, limits)]
    elif isinstance(tests, StdioTests):
        outcomes = _stdio(program, tests, limits)
    else:
        outcomes = _calls(program, tests, limits)
    failed = next((outcome for outcome in outcomes if not outcome.passed), None)
    return CodeResult(tuple(outcomes), failed.reason if failed else "")


def humaneval_source(program: str, tests: HumanEvalTests) -> str:
    """HumanEval's check program: the function's prompt, the program (a body that
    continues it, or a whole definition that replaces it), the test and the call."""
    joint = "" if program[:1] in (" ", "\t") else "\n"
    return (
        f"{tests.prompt}{joint}{program}\n\n{tests.test}\n\ncheck({tests.entry_point})\n"
    )


def _humaneval(program: str, tests: HumanEvalTests, limits: Limits | None) -> TestOutcome:
    source = humaneval_source(program, tests)
    verdict = run_cases(source, [Case()], limits=limits)[0]
    if verdict.ok and verdict.ending is Ending.COMPLETED:
        return _outcome(0, verdict, Status.OK)
    if verdict.ending is Ending.ASSERTION:
        return _outcome(0, verdict, Status.WRONG_ANSWER, "a check failed")
    if verdict.ending is Ending.EXCEPTION and _raised_in_test(verdict.stderr, tests):
        # check() itself choked on what the function returned (None - 1.0): a wrong
        # result, not a crash of the program.
        reason = f"a check failed on the result: {_last_line(verdict.stderr)}"
        return _outcome(0, verdict, Status.WRONG_ANSWER, reason)
    if verdict.ok:  # exit(0) or os._exit(0) before check() had run
        return _outcome(0, verdict, Status.RUNTIME_ERROR, "exited before its tests finished")
    return _outcome(0, verdict, verdict.status, verdict.reason)


_FRAME = re.compile(r'File "main\.py", line \d+, in (\S+)')


def _raised_in_test(stderr: str, tests: HumanEvalTests) -> bool:
    """Whether check() raised with the function under test no longer on the stack: it
    returned, and the test code failed on what it returned."""
    functions = _FRAME.findall(stderr)
    return "check" in functions and tests.entry_point not in functions


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _stdio(program: str, tests: StdioTests, limits: Limits | None) -> list[TestOutcome]:
    cases = [Case(stdin=case.input) for case in tests.cases]
    verdicts = run_cases(program, cases, language=tests.language, limits=limits)
    outcomes = []
    for index, (case, verdict) in enumerate(zip(tests.cases, verdicts)):
        if not verdict.ok:
            outcome = _outcome(index, verdict, verdict.status, verdict.reason)
        elif outputs_match(verdict.stdout, case.output, tests.comparison, tests.tolerance):
            outcome = _outcome(index, verdict, Status.OK)
        else:
            outcome = _outcome(index, verdict, Status.WRONG_ANSWER, "output differs")
        outcomes.append(_with_expected(outcome, case.output))
    return outcomes


def _calls(program: str, tests: CallTests, limits: Limits | None) -> list[TestOutcome]:
    cases = [Case(call=(tests.fn_name, case.args)) for case in tests.cases]
    verdicts = run_cases(program, cases, language=tests.language, limits=limits)
    outcomes = []
    for index, (case, verdict) in enumerate(zip(tests.cases, verdicts)):
        if not verdict.ok:
            outcome = _outcome(index, verdict, verdict.status, verdict.reason)
        elif verdict.value is None:
            outcome = _outcome(index, verdict, Status.RUNTIME_ERROR, "returned nothing")
        elif _value_passes(verdict.value, case.expected, tests):
            outcome = _outcome(index, verdict, Status.OK)
        else:
            outcome = _outcome(index, verdict, Status.WRONG_ANSWER, "wrong return value")
        shown = _with_expected(outcome, repr(case.expected))
        outcomes.append(_with_actual(shown, verdict.value or ""))
    return outcomes


def _value_passes(shown: str, expected: Any, tests: CallTests) -> bool:
    try:
        # The repr of a literal (numbers, strings, lists, dicts, sets, None) reads back;
        # anything else (an object's repr) cannot equal a JSON value anyway.
        actual = ast.literal_eval(shown)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    if values_match(actual, expected, tests.tolerance):
        return True
    unwrapped = isinstance(expected, list) and len(expected) == 1
    return tests.wrapped and unwrapped and values_match(actual, expected[0], tests.tolerance)


def _outcome(index: int, verdict: Verdict, status: Status, reason: str = "") -> TestOutcome:
    return TestOutcome(
        index=index, status=status, reason=reason, actual=excerpt(verdict.stdout, EXCERPT),
        stderr=excerpt(verdict.stderr, EXCERPT), duration_s=verdict.duration_s,
    )


def _with_expected(outcome: TestOutcome, expected: str) -> TestOutcome:
    return replace(outcome, expected=excerpt(expected, EXCERPT))


def _with_actual(outcome: TestOutcome, actual: str) -> TestOutcome:
    return replace(outcome, actual=excerpt(actual, EXCERPT))
