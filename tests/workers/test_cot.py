"""A chain of thought for non-reasoning data: the human response stays, a readable
model-written reasoning goes before it, an unreadable one is not used."""

from __future__ import annotations

from r1domain.coldstart import parse_cold_start
from r1domain.cot import with_cot

EXAMPLE = {"key": "g1", "prompt": "Say hello to Ada", "completion": "Hello, Ada!",
           "provenance": {"key": "g1"}}


def test_a_readable_reasoning_goes_before_the_unchanged_response():
    updated, outcome = with_cot(EXAMPLE, "The user wants a greeting for Ada.", "|special_token|")
    assert outcome == "added"
    assert parse_cold_start(updated["completion"]) == (
        "The user wants a greeting for Ada.", "Hello, Ada!")
    assert updated["provenance"] == {"key": "g1", "cot": "model"}


def test_an_unreadable_reasoning_leaves_the_example_as_it_was():
    for reasoning, reason in [("", "no_reasoning"), ("the 用户 wants 问候 你好 世界", "mixed_language"),
                              ("```\nprint(1)\n```", "code_block")]:
        updated, outcome = with_cot(EXAMPLE, reasoning, "|special_token|")
        assert (updated, outcome) == (EXAMPLE, reason)


def test_a_reasoning_holding_the_delimiter_is_not_used():
    updated, outcome = with_cot(EXAMPLE, "so |special_token| breaks it", "|special_token|")
    assert (updated, outcome) == (EXAMPLE, "bad_format")
