"""Property: any line or file content gives examples or a DatasetFileError naming the
line; never another exception (which would be a 500 on upload)."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from r1domain.datafiles import DatasetFileError, parse_jsonl_bytes, parse_line

KEYS = ["question", "answer", "prompt", "response", "messages", "task", "split", "language",
        "role", "content", "completion"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.sampled_from(["#### 42", "x\n#### 1,200", "user", "assistant", "system", " "]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), children,
                        max_size=4),
    ),
    max_leaves=15,
)
OBJECTS = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), VALUES,
                          max_size=6)
LINES = st.one_of(
    OBJECTS.map(json.dumps),  # json.dumps writes NaN and Infinity for non-finite floats
    VALUES.map(json.dumps),
    st.text(max_size=200),
)
HOSTILE_LINES = [
    '{"prompt": "p", "answer": ' + "9" * 5000 + "}",
    '{"prompt": "p", "answer": 1e999}',
    '{"prompt": "p", "answer": NaN}',
    '{"prompt": ' + "[" * 3000 + "]" * 3000 + "}",
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": 5}]}',
    '{"question": "q", "answer": "no marker"}',
    '{"prompt": "p\\u0000", "answer": "a"}',
]


def _check_example(record: dict) -> None:
    assert isinstance(record["prompt"], str) and record["prompt"].strip()
    for field in ("answer", "task", "split", "key"):
        assert isinstance(record[field], str)
    assert isinstance(record.get("completion", ""), str)


@settings(max_examples=100, deadline=None)
@given(LINES)
@example(HOSTILE_LINES[0])
@example(HOSTILE_LINES[1])
@example(HOSTILE_LINES[2])
@example(HOSTILE_LINES[3])
@example(HOSTILE_LINES[4])
@example(HOSTILE_LINES[5])
@example(HOSTILE_LINES[6])
def test_any_line_is_an_example_or_a_dataset_file_error(text):
    try:
        record = parse_line(text, "f.jsonl", 3)
    except DatasetFileError as exc:
        assert "f.jsonl line 3" in str(exc)
        return
    _check_example(record)


@settings(max_examples=100, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(LINES, max_size=5).map(lambda lines: "\n".join(lines).encode()),
    st.lists(OBJECTS.map(json.dumps), max_size=5).map(lambda ls: "\r\n".join(ls).encode()),
))
@example(b"\xff\xfe{}")
@example(b"\n\n  \n")
@example(("\n".join(HOSTILE_LINES)).encode())
def test_any_file_content_is_examples_or_a_dataset_file_error(data):
    try:
        records = parse_jsonl_bytes(data, "f.jsonl")
    except DatasetFileError as exc:
        assert "f.jsonl" in str(exc)
        return
    assert records
    for record in records:
        _check_example(record)
