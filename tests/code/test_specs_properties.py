"""Properties of the test-format parsers: stored tests read back as they were, and any row
or tests object gives tests or an error that names the problem, never another exception
(which would be a 500 on upload or a crashed reward)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from r1domain.code.rows import code_from_row, is_code_row
from r1domain.code.specs import (
    CodeSpecError,
    call_tests,
    load_tests,
    parse_tests,
    stdio_tests,
    to_json,
)
from r1domain.datafiles import DatasetFileError

TEXT = st.text(max_size=20)
NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
              allow_infinity=False), TEXT),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(TEXT, children, max_size=3)),
    max_leaves=8,
)
STDIO = st.builds(
    lambda cases, comparison, tolerance, language: stdio_tests(
        [{"input": i, "output": o} for i, o in cases], comparison=comparison,
        tolerance=tolerance, language=language,
    ),
    st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=4),
    st.sampled_from(["exact", "whitespace", "float"]),
    st.floats(min_value=0, max_value=1),
    st.sampled_from(["python", "cpp"]),
)
CALLS = st.builds(
    lambda name, cases, wrapped: call_tests(
        name, [{"args": args, "expected": out} for args, out in cases], wrapped=wrapped
    ),
    NAME,
    st.lists(st.tuples(st.lists(JSON_VALUE, max_size=3), JSON_VALUE), min_size=1, max_size=3),
    st.booleans(),
)
HUMANEVAL = st.builds(
    lambda prompt, test, name: parse_tests(
        {"format": "humaneval", "prompt": prompt, "test": test + "x", "entry_point": name}
    ),
    TEXT, TEXT, NAME,
)


@given(st.one_of(STDIO, CALLS, HUMANEVAL))
def test_stored_tests_read_back_as_they_were(tests):
    assert load_tests(to_json(tests)) == tests


KEYS = ["format", "cases", "input", "output", "args", "expected", "fn_name", "prompt",
        "test", "entry_point", "language", "comparison", "tolerance", "wrapped"]
OBJECTS = st.recursive(
    st.one_of(JSON_VALUE, st.sampled_from(["stdio", "calls", "humaneval", "python", "float"])),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), TEXT), children, max_size=5),
    ),
    max_leaves=15,
)


@given(OBJECTS)
def test_any_tests_object_gives_tests_or_a_named_refusal(value):
    try:
        tests = parse_tests(value)
    except CodeSpecError as exc:
        assert str(exc)
    else:
        assert tests.count() >= 1


ROW_KEYS = ["task_id", "prompt", "test", "entry_point", "canonical_solution", "problem",
            "verification_info", "test_cases", "type", "question", "input_output", "inputs",
            "outputs", "fn_name", "solutions", "description", "public_tests",
            "private_tests", "tests", "language"]
ROWS = st.dictionaries(
    st.sampled_from(ROW_KEYS),
    st.one_of(OBJECTS, OBJECTS.map(json.dumps),
              st.dictionaries(st.sampled_from(ROW_KEYS), OBJECTS, max_size=4)),
    max_size=6,
)


@given(ROWS)
def test_any_row_gives_a_code_example_or_a_refusal_naming_the_row(row):
    try:
        record = code_from_row(row, "problems.jsonl line 7", "problems.jsonl:7")
    except DatasetFileError as exc:
        assert str(exc).startswith("problems.jsonl line 7: ")
    else:
        assert record["task"] == "code" and record["prompt"].strip()
        assert load_tests(record["answer"]).count() >= 1


def test_each_public_row_shape_is_read():
    humaneval = {"task_id": "HumanEval/0", "prompt": "def f(x):\n", "test": "def check(c): pass",
                 "entry_point": "f", "canonical_solution": "    return x\n"}
    open_r1 = {"problem": "Add.", "verification_info": {"language": "python", "test_cases": [
        {"input": "1 2", "output": "3", "type": "stdin_stdout"}]}}
    apps = {"question": "Double.", "input_output": json.dumps(
        {"inputs": [[2]], "outputs": [[4]], "fn_name": "double"}), "solutions": '["def double(x): return 2*x"]'}
    contests = {"description": "Echo.", "public_tests": {"input": ["a\n"], "output": ["a\n"]},
                "private_tests": {"input": ["b\n"], "output": ["b\n"]}}

    formats = [json.loads(code_from_row(row, "f line 1", "f:1")["answer"])["format"]
               for row in (humaneval, open_r1, apps, contests)]

    assert all(is_code_row(row) for row in (humaneval, open_r1, apps, contests))
    assert formats == ["humaneval", "stdio", "calls", "stdio"]
    assert code_from_row(humaneval, "f line 1", "f:1")["key"] == "HumanEval/0"
    assert code_from_row(apps, "f line 1", "f:1")["completion"] == "def double(x): return 2*x"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"problem": "p", "verification_info": {"test_cases": []}},
         "'verification_info.test_cases' must be a non-empty list"),
        ({"problem": "p", "verification_info": {"language": "rust", "test_cases": [
            {"input": "", "output": ""}]}}, "'language' must be one of python, cpp"),
        ({"question": "q", "input_output": {"inputs": ["1"], "outputs": []}},
         "has 1 inputs but 0 outputs"),
        ({"task_id": "t", "prompt": "def f():\n", "test": "", "entry_point": "f"},
         "missing or empty field 'test'"),
        ({"task_id": "t", "prompt": "def f():\n", "test": "x", "entry_point": "not a name"},
         "'entry_point' must be a Python name"),
        ({"prompt": "p", "tests": {"format": "stdio", "cases": [{"input": 1, "output": "1"}]}},
         "test case 1 needs 'input' as text"),
    ],
)
def test_a_malformed_row_is_refused_with_its_place_and_field(row, message):
    with pytest.raises(DatasetFileError, match="^rows.jsonl line 3: ") as refused:
        code_from_row(row, "rows.jsonl line 3", "rows.jsonl:3")
    assert message in str(refused.value)
