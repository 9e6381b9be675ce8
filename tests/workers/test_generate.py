from __future__ import annotations

import pytest

from r1domain.base import ConfigError
from workers.stages.generate import render_direct, render_few_shot, render_prompts

EXEMPLAR = {
    "prompt": "Find the largest of 1 4",
    "answer": "4",
    "completion": "|special_token|4 > 1. Wait, check: yes.|special_token|4",
}


def test_few_shot_prompts_show_the_exemplars_solved_in_think_answer_form():
    prompt = render_few_shot("Find the largest of 2 9", [EXEMPLAR], "|special_token|")
    assert "<think> 4 > 1. Wait, check: yes. </think> <answer> 4 </answer>" in prompt
    assert prompt.endswith("User: Find the largest of 2 9. Assistant:")
    assert "|special_token|" not in prompt


def test_direct_prompts_ask_for_reflection_and_verification():
    prompt = render_direct("Find the largest of 2 9")
    assert "reflect" in prompt and "verify" in prompt
    assert prompt.endswith("User: Find the largest of 2 9. Assistant:")


def test_few_shot_without_exemplars_is_a_configuration_error():
    with pytest.raises(ConfigError, match="exemplars"):
        render_prompts([{"prompt": "p"}], "few_shot", [], "|special_token|", 2)


def test_an_unknown_method_is_a_configuration_error():
    with pytest.raises(ConfigError, match="unknown generation method"):
        render_prompts([{"prompt": "p"}], "telepathy", [], "|special_token|", 2)
