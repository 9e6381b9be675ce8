from __future__ import annotations

import pytest

from r1domain.datafiles import DatasetFileError
from r1web.datasets.content import content_hash
from r1web.datasets.files import read_examples, write_examples

RECORDS = [
    {
        "key": "a",
        "split": "train",
        "task": "math",
        "prompt": "1+1?",
        "answer": "2",
        "completion": "|special_token| one and one |special_token|2",
        "provenance": {"sample_id": 7},
    },
    {
        "key": "b",
        "split": "test",
        "task": "math",
        "prompt": " spaced ",
        "answer": "",
        "completion": "x",
        "provenance": {},
    },
]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_a_written_file_reads_back_with_the_same_content_hash(tmp_path, fmt):
    path = write_examples(RECORDS, tmp_path / f"out.{fmt}", fmt=fmt)
    back = read_examples(path, fmt=fmt)
    assert content_hash(back) == content_hash(RECORDS)
    assert back[0]["provenance"] == {"sample_id": 7}


def test_gsm8k_lines_take_the_final_answer_and_the_given_split(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text('{"question": "Q?", "answer": "step\\n#### 1,234"}\n')
    [record] = read_examples(path, fmt="gsm8k", split="test")
    assert (record["prompt"], record["answer"], record["split"]) == ("Q?", "1234", "test")


def test_a_bad_line_is_named_by_its_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"prompt": "a", "answer": "1"}\n{"prompt": "b", "answer": "2"}\n{oops\n')
    with pytest.raises(DatasetFileError, match="line 3"):
        read_examples(path)


def test_hugging_face_folders_written_without_the_library_load_with_it_and_back(tmp_path):
    # The web process reads and writes save_to_disk folders with pyarrow alone; the real
    # library must agree with it in both directions.
    import datasets

    from r1web.datasets.hf_disk import read_rows, write_rows

    rows = [{"prompt": "Find the largest of 1 2", "answer": "2", "provenance": "{}"},
            {"prompt": "ünïcode ✓", "answer": "", "provenance": '{"a": 1}'}]
    write_rows(rows, tmp_path / "ours")
    assert datasets.load_from_disk(str(tmp_path / "ours")).to_list() == rows
    theirs = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:1]),
                                   "test": datasets.Dataset.from_list(rows[1:])})
    theirs.save_to_disk(str(tmp_path / "theirs"))
    assert read_rows(tmp_path / "theirs") == [{"split": "train", **rows[0]},
                                              {"split": "test", **rows[1]}]
