from __future__ import annotations

from r1domain.prompts import R1_ZERO_TEMPLATE, render_r1_zero


def test_the_template_is_the_r1_zero_text_word_for_word():
    assert R1_ZERO_TEMPLATE.startswith("A conversation between User and Assistant. The user asks")
    assert "<think> reasoning process here </think> <answer> answer here </answer>." in R1_ZERO_TEMPLATE
    assert R1_ZERO_TEMPLATE.endswith("User: {prompt}. Assistant:")


def test_rendering_puts_the_question_after_user_and_ends_at_assistant():
    text = render_r1_zero("What is 2 + 3?")
    assert text.endswith("User: What is 2 + 3?. Assistant:")
    assert "{prompt}" not in text


def test_a_question_ending_with_a_full_stop_does_not_get_two():
    assert render_r1_zero("Add 2 and 3.").endswith("User: Add 2 and 3. Assistant:")
