from __future__ import annotations

import json
from collections import Counter

import pytest

from r1domain.coldstart import parse_cold_start
from r1domain.datafiles import DatasetFileError
from r1domain.preferences import (
    REJECTED_KINDS,
    parse_preference_jsonl,
    synthetic_preferences,
)


def _jsonl(*rows: dict) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def test_a_preference_line_becomes_a_record_with_chosen_as_completion():
    data = _jsonl({"prompt": "Say hi", "chosen": "Hello!", "rejected": "Go away.",
                   "split": "test"})
    [pair] = parse_preference_jsonl(data, "prefs.jsonl")
    assert (pair["prompt"], pair["completion"], pair["rejected"]) == ("Say hi", "Hello!",
                                                                      "Go away.")
    assert pair["split"] == "test" and pair["key"] == "prefs.jsonl:1"
    assert pair["provenance"] == {"file": "prefs.jsonl", "line": 1}


def test_a_line_without_rejected_is_refused_naming_the_line():
    data = _jsonl({"prompt": "a", "chosen": "b", "rejected": "c"}, {"prompt": "a", "chosen": "b"})
    with pytest.raises(DatasetFileError, match="line 2: missing or empty field 'rejected'"):
        parse_preference_jsonl(data, "prefs.jsonl")


@pytest.mark.parametrize("field", ["prompt", "chosen", "rejected"])
def test_an_empty_or_non_text_field_is_refused_by_name(field):
    for bad in ("  ", ["a", "list"], None):
        row = {"prompt": "p", "chosen": "c", "rejected": "r", field: bad}
        with pytest.raises(DatasetFileError, match=f"line 1: missing or empty field '{field}'"):
            parse_preference_jsonl(_jsonl(row), "prefs.jsonl")


def test_the_synthetic_set_has_a_few_hundred_pairs_in_train_and_test():
    pairs = synthetic_preferences()
    splits = Counter(pair["split"] for pair in pairs)
    assert 200 <= len(pairs) <= 1000 and splits["train"] > splits["test"] > 0
    assert synthetic_preferences() == pairs  # seeded
    assert synthetic_preferences(seed=1) != pairs
    # Every kind of rejected response is in each split, so the test split measures all.
    for split in ("train", "test"):
        kinds = {p["provenance"]["rejected_kind"] for p in pairs if p["split"] == split}
        assert kinds == set(REJECTED_KINDS)


def test_chosen_is_polite_cold_start_with_the_right_summary_and_rejected_fails_it():
    for pair in synthetic_preferences(train=30, test=6):
        reasoning, summary = parse_cold_start(pair["completion"])
        assert summary == pair["answer"] and reasoning
        assert "idiot" not in reasoning and "fool" not in reasoning
        _, bad_summary = parse_cold_start(pair["rejected"])
        kind = pair["provenance"]["rejected_kind"]
        if kind == "wrong":
            assert bad_summary and bad_summary != pair["answer"]
        elif kind == "missing":
            assert bad_summary == ""
        else:  # rude: only the whole response tells it apart
            assert bad_summary == pair["answer"]
            assert any(word in pair["rejected"] for word in ("idiot", "fool"))
