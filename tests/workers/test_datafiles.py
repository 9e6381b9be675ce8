from __future__ import annotations

from pathlib import Path

import pytest

from r1domain.datafiles import DatasetFileError, load_jsonl, parse_jsonl_bytes

GSM8K_TRAIN = Path(__file__).resolve().parents[2].parent / "shared/data/gsm8k/train.jsonl"


def test_gsm8k_lines_keep_the_question_and_the_final_answer_without_commas():
    line = b'{"question": "How many?", "answer": "2 * 600 = 1,200\\n#### 1,200"}\n'
    [example] = parse_jsonl_bytes(line, "mine.jsonl")
    assert example["prompt"] == "How many?"
    assert example["answer"] == "1200"
    assert example["task"] == "gsm8k"
    assert example["key"] == "mine.jsonl:1"


def test_plain_prompt_answer_lines_are_accepted_with_their_line_as_key():
    data = b'{"prompt": "1+1", "answer": "2"}\n\n{"prompt": "2+2", "answer": 4, "task": "arith"}\n'
    examples = parse_jsonl_bytes(data, "p.jsonl")
    assert [(e["key"], e["answer"], e["task"]) for e in examples] == [
        ("p.jsonl:1", "2", "math"),
        ("p.jsonl:3", "4", "arith"),
    ]


@pytest.mark.parametrize(
    "bad_line, reason",
    [
        (b'{"prompt": "x", "answer": ', "invalid JSON"),
        (b'{"prompt": "x"}', "'answer'"),
        (b'{"question": "x", "answer": "no marker"}', "####"),
        (b'["a list"]', "JSON object"),
        (b'{"prompt": "caf\xe9", "answer": "1"}', "invalid UTF-8"),
    ],
)
def test_a_bad_line_rejects_the_whole_file_naming_its_line(bad_line, reason):
    data = b'{"prompt": "ok", "answer": "1"}\n' + bad_line + b"\n"
    with pytest.raises(DatasetFileError, match="line 2") as error:
        parse_jsonl_bytes(data, "f.jsonl")
    assert reason in str(error.value)


def test_an_empty_file_is_rejected():
    with pytest.raises(DatasetFileError, match="no examples"):
        parse_jsonl_bytes(b"\n", "empty.jsonl")


@pytest.mark.skipif(not GSM8K_TRAIN.exists(), reason="shared GSM8K data not present")
def test_the_real_gsm8k_train_file_loads_completely():
    examples = load_jsonl(GSM8K_TRAIN)
    assert len(examples) == 7473
    assert examples[0]["answer"] == "72"
    assert examples[-1]["key"] == "train.jsonl:7473"
    assert all(e["answer"] and "," not in e["answer"] for e in examples)
