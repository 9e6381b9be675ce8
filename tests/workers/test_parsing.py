from __future__ import annotations

from r1domain.parsing import extract_answer, extract_think, format_ok, parse_completion


def test_a_well_formed_completion_splits_into_reasoning_and_answer():
    parsed = parse_completion(" <think> 3 + 4 = 7 </think> <answer> 7 </answer>")
    assert parsed.think == "3 + 4 = 7"
    assert parsed.answer == "7"
    assert parsed.format_ok


def test_format_requires_the_think_block_before_the_answer_block():
    assert not format_ok("<answer> 7 </answer> <think> x </think>")


def test_format_rejects_text_outside_the_two_blocks():
    assert not format_ok("<think> x </think> <answer> 7 </answer> and more")
    assert not format_ok("so <think> x </think> <answer> 7 </answer>")


def test_format_rejects_a_missing_or_unclosed_block():
    assert not format_ok("<think> x <answer> 7 </answer>")
    assert not format_ok("<think> x </think> the answer is 7")


def test_format_rejects_nested_or_repeated_blocks():
    assert not format_ok("<think> a <think> b </think> <answer> 7 </answer>")
    assert not format_ok("<think> a </think> <answer> 7 </answer> <answer> 8 </answer>")


def test_a_completion_without_answer_tags_has_no_answer():
    assert extract_answer("<think> x </think> the answer is 7") == ""


def test_the_last_answer_block_is_the_answer():
    assert extract_answer("<answer> 1 </answer> <answer> 2 </answer>") == "2"


def test_an_unclosed_think_block_still_yields_the_reasoning():
    assert extract_think("<think> wait, 3 > 2 <answer> 3 </answer>") == "wait, 3 > 2"
