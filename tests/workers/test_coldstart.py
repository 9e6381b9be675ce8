from __future__ import annotations

import pytest

from r1domain.coldstart import (
    ColdStartFormatError,
    from_think_answer,
    parse_cold_start,
    readability_issues,
    to_cold_start,
)


def codes(reasoning: str, summary: str = "It is 7.", language: str = "en") -> set[str]:
    return {issue.code for issue in readability_issues(reasoning, summary, language)}


def test_think_answer_converts_to_the_cold_start_format_and_back():
    reasoning, summary = from_think_answer("<think> 3 < 7, so 7. </think> <answer>7</answer>")
    text = to_cold_start(reasoning, summary)
    assert text == "|special_token|3 < 7, so 7.|special_token|7"
    assert parse_cold_start(text) == ("3 < 7, so 7.", "7")


def test_a_dataset_can_choose_its_own_special_token():
    assert to_cold_start("r", "s", token="<|sep|>") == "<|sep|>r<|sep|>s"
    assert parse_cold_start("<|sep|>r<|sep|>s", token="<|sep|>") == ("r", "s")


def test_text_without_two_tokens_is_not_cold_start_text():
    with pytest.raises(ColdStartFormatError, match="1 time"):
        parse_cold_start("|special_token|only reasoning")


def test_the_token_inside_the_reasoning_is_refused():
    with pytest.raises(ColdStartFormatError, match="reasoning"):
        to_cold_start("a |special_token| b", "s")


def test_a_clean_english_answer_has_no_issues():
    assert codes("First compare 3 and 7. Then check again: 7 is larger.") == set()


def test_mixed_languages_in_one_cot_are_flagged():
    assert "mixed_language" in codes("First compare 3 and 7. 然后我们再检查一下这个答案是否正确。")


def test_chinese_target_language_flags_english_reasoning():
    assert "mixed_language" in codes("compare the numbers and check", language="zh")
    assert "mixed_language" not in codes("比较这些数字然后检查", language="zh")


def test_a_missing_summary_is_flagged():
    assert "no_summary" in codes("some reasoning", summary="  ")


def test_a_very_long_paragraph_is_flagged_but_many_short_ones_are_not():
    assert "long_paragraph" in codes("word " * 250)
    assert "long_paragraph" not in codes("\n\n".join(["word " * 50] * 5))


def test_code_blocks_are_flagged():
    assert "code_block" in codes("Let me compute:\n```python\nprint(max(3, 7))\n```")
