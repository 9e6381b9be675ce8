from __future__ import annotations

from r1domain.reflection import find_reflection_phrases, reflection_rate


def test_each_occurrence_is_reported_in_order():
    text = "Wait, 3 > 2. Let me check again. wait"
    assert find_reflection_phrases(text) == ["wait", "check again", "wait"]


def test_spelling_variants_are_normalised_to_the_list_entry():
    text = "Let me reevaluate. I Re-Evaluate it, then double check and re-examine."
    assert find_reflection_phrases(text) == [
        "re-evaluate", "re-evaluate", "double-check", "re-examine"
    ]


def test_phrases_only_match_as_whole_words():
    assert find_reflection_phrases("awaiting the waiter; retrying; howeverish") == []


def test_reflection_rate_is_the_share_of_texts_with_a_phrase():
    assert reflection_rate(["wait", "no", "however", "x"]) == 0.5
    assert reflection_rate([]) == 0.0
