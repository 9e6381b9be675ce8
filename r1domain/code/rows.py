"""Dataset rows of programming problems, as the example records datasets store.

A code example is ``task`` ``code``, its ``prompt`` the problem, its ``answer`` the tests
as JSON (``r1domain.code.specs``) and its ``completion`` a reference solution when the
row has one. Row shapes read (a file is one shape throughout, told by its first row):

* HumanEval: ``task_id``, ``prompt``, ``test``, ``entry_point``, ``canonical_solution``;
* open-r1: ``problem`` (or ``prompt``), ``verification_info`` ``{language, test_cases:
  [{input, output, type: "stdin_stdout"}]}``, optional ``gold_standard_solution``;
* APPS / TACO: ``question``, ``input_output`` ``{inputs, outputs, fn_name?}`` (an object
  or its JSON text), optional ``solutions``;
* CodeContests: ``description``, ``public_tests`` / ``private_tests`` /
  ``generated_tests``, each ``{input: [...], output: [...]}``;
* r1web's own: ``prompt``, ``tests`` (the tests object), optional ``solution``.

A malformed row raises ``DatasetFileError`` naming the row and the field.
"""

from __future__ import annotations

import json
from typing import Any

from r1domain.code.specs import (
    CodeSpecError,
    CodeTests,
    call_tests,
    load_tests,
    normalize_language,
    parse_tests,
    stdio_tests,
    to_json,
)
from r1domain.datafiles import DatasetFileError

CODE_TASK = "code"
STDIO_TYPES = ("stdin_stdout", "stdio")
CONTEST_SPLITS = ("public_tests", "private_tests", "generated_tests")


def is_code_row(row: dict[str, Any]) -> bool:
    """Is this the first row of a file of programming problems?"""
    return (
        ("entry_point" in row and "test" in row)
        or "verification_info" in row
        or "input_output" in row
        or any(name in row for name in CONTEST_SPLITS)
        or ("tests" in row and "prompt" in row)
    )


def code_from_row(row: dict[str, Any], where: str, default_key: str) -> dict[str, Any]:
    """One problem as a record (without provenance, which the caller knows)."""
    try:
        prompt, tests, solution = _read(row)
    except CodeSpecError as exc:
        raise DatasetFileError(f"{where}: {exc}") from None
    if not isinstance(prompt, str) or not prompt.strip():
        raise DatasetFileError(f"{where}: missing or empty problem text")
    key = row.get("task_id") or row.get("key") or default_key
    return {
        "key": str(key),
        "split": str(row.get("split") or ""),
        "task": CODE_TASK,
        "prompt": prompt,
        "answer": to_json(tests),
        "completion": solution,
    }


def check_stored_tests(answer: str, where: str) -> None:
    """An exported code example's ``answer`` must still be valid tests."""
    try:
        load_tests(answer)
    except CodeSpecError as exc:
        raise DatasetFileError(f"{where}: field 'answer' holds no valid tests ({exc})") from None


def _read(row: dict[str, Any]) -> tuple[Any, CodeTests, str]:
    if "entry_point" in row and "test" in row:
        tests = parse_tests({**_only(row, "prompt", "test", "entry_point", "language"),
                                 "format": "humaneval"})
        return row.get("prompt"), tests, _solution(row, "canonical_solution")
    if "verification_info" in row:
        return row.get("problem", row.get("prompt")), _open_r1(row), _solution(
            row, "gold_standard_solution")
    if "input_output" in row:
        return row.get("question", row.get("prompt")), _apps(row), _first_solution(row)
    if "tests" in row and "prompt" in row:
        return row["prompt"], parse_tests(row["tests"]), _solution(row, "solution")
    return row.get("description", row.get("prompt")), _contests(row), _first_solution(row)


def _only(row: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {field: row[field] for field in fields if field in row}


def _json_or_value(value: Any, field: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise CodeSpecError(f"field {field!r} is not valid JSON") from None
    return value


def _open_r1(row: dict[str, Any]) -> CodeTests:
    info = _json_or_value(row["verification_info"], "verification_info")
    if not isinstance(info, dict):
        raise CodeSpecError("field 'verification_info' must be an object")
    cases = _json_or_value(info.get("test_cases"), "verification_info.test_cases")
    if not isinstance(cases, list) or not cases:
        raise CodeSpecError("field 'verification_info.test_cases' must be a non-empty list")
    for number, case in enumerate(cases, start=1):
        kind = case.get("type", "stdin_stdout") if isinstance(case, dict) else None
        if kind not in STDIO_TYPES:
            raise CodeSpecError(f"test case {number} has type {kind!r}; only stdin_stdout runs")
    return stdio_tests(cases, language=normalize_language(info.get("language", "python")))


def _apps(row: dict[str, Any]) -> CodeTests:
    spec = _json_or_value(row["input_output"], "input_output")
    if not isinstance(spec, dict):
        raise CodeSpecError("field 'input_output' must be an object")
    inputs, outputs = spec.get("inputs"), spec.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or not inputs:
        raise CodeSpecError("field 'input_output' needs lists 'inputs' and 'outputs'")
    if len(inputs) != len(outputs):
        raise CodeSpecError(
            f"field 'input_output' has {len(inputs)} inputs but {len(outputs)} outputs"
        )
    if spec.get("fn_name"):
        cases = [{"args": args, "expected": out} for args, out in zip(inputs, outputs)]
        return call_tests(str(spec["fn_name"]), cases, wrapped=True, tolerance=1e-6)
    cases = [{"input": i, "output": o} for i, o in zip(inputs, outputs)]
    return stdio_tests(cases)


def _contests(row: dict[str, Any]) -> CodeTests:
    cases: list[dict[str, Any]] = []
    for name in CONTEST_SPLITS:
        block = _json_or_value(row.get(name) or {}, name)
        if not isinstance(block, dict):
            raise CodeSpecError(f"field {name!r} must be an object")
        inputs, outputs = block.get("input", []), block.get("output", [])
        if not isinstance(inputs, list) or not isinstance(outputs, list):
            raise CodeSpecError(f"field {name!r} needs lists 'input' and 'output'")
        if len(inputs) != len(outputs):
            raise CodeSpecError(f"field {name!r} has {len(inputs)} inputs, {len(outputs)} outputs")
        cases += [{"input": i, "output": o} for i, o in zip(inputs, outputs)]
    if not cases:
        raise CodeSpecError("no test cases in public_tests, private_tests or generated_tests")
    return stdio_tests(cases)


def _solution(row: dict[str, Any], field: str) -> str:
    value = row.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CodeSpecError(f"field {field!r} must be text")
    return value


def _first_solution(row: dict[str, Any]) -> str:
    solutions = _json_or_value(row.get("solutions") or [], "solutions")
    if isinstance(solutions, dict):  # CodeContests mixes languages: no reference kept
        return ""
    if not isinstance(solutions, list):
        raise CodeSpecError("field 'solutions' must be a list")
    first = solutions[0] if solutions else ""
    return first if isinstance(first, str) else ""
