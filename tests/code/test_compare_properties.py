"""Properties of output comparison: each way accepts what a stricter one accepts, spacing
never matters past ``exact``, and ``float`` accepts exactly the numbers within its
tolerance."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from r1domain.code.compare import (
    COMPARISONS,
    EXACT,
    FLOAT,
    WHITESPACE,
    outputs_match,
    values_match,
)

TOKENS = st.lists(st.text(alphabet="abcxyz0123456789.-+e", min_size=1, max_size=8), max_size=8)
SPACES = st.lists(st.sampled_from([" ", "  ", "\n", "\t", "\r\n", " \n"]), min_size=1)
OUTPUTS = st.text(max_size=60)
FINITE = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


def spaced(tokens: list[str], gaps: list[str], lead: str, tail: str) -> str:
    joined = "".join(token + gaps[i % len(gaps)] for i, token in enumerate(tokens))
    return lead + joined + tail


@given(OUTPUTS, OUTPUTS)
def test_each_comparison_accepts_what_a_stricter_one_accepts(actual, expected):
    exact, loose, numeric = (outputs_match(actual, expected, way) for way in COMPARISONS)

    assert not exact or loose
    assert not loose or numeric


@given(OUTPUTS)
def test_every_comparison_accepts_an_output_equal_to_the_expected_one(text):
    assert all(outputs_match(text, text, way) for way in COMPARISONS)


@given(TOKENS, SPACES, SPACES, st.sampled_from(["", " ", "\n", "\n\n"]), st.sampled_from(["", "\n", " \n"]))
def test_spacing_and_line_breaks_do_not_matter_past_exact(tokens, gaps, other_gaps, lead, tail):
    expected = " ".join(tokens)
    actual = spaced(tokens, other_gaps, lead, tail)

    assert outputs_match(actual, expected, WHITESPACE)
    assert outputs_match(actual, expected, FLOAT)


@given(TOKENS, st.text(alphabet="abc", min_size=1, max_size=4))
def test_a_missing_or_extra_token_is_never_accepted(tokens, extra):
    expected = " ".join(tokens)

    for way in COMPARISONS:
        assert not outputs_match(f"{expected} {extra}", expected, way)
        if tokens:
            assert not outputs_match(" ".join(tokens[:-1]), expected, way)


@given(FINITE, st.floats(min_value=-0.9, max_value=0.9))
def test_float_accepts_a_number_within_its_tolerance(value, share):
    tolerance = 1e-6
    shifted = value + share * tolerance * max(1.0, abs(value))
    assume(math.isfinite(shifted))

    assert outputs_match(repr(shifted), repr(value), FLOAT, tolerance)
    assert outputs_match(f"{shifted!r}\n", f"{value!r}", FLOAT, tolerance)


@given(FINITE, st.floats(min_value=1.5, max_value=1e6))
def test_float_refuses_a_number_beyond_its_tolerance(value, times):
    tolerance = 1e-6
    shifted = value + times * tolerance * max(1.0, abs(value))
    assume(math.isfinite(shifted) and shifted != value)

    assert not outputs_match(repr(shifted), repr(value), FLOAT, tolerance)
    assert not outputs_match(repr(shifted), repr(value), WHITESPACE)


def test_exact_is_byte_for_byte():
    assert outputs_match("1 2\n", "1 2\n", EXACT)
    assert not outputs_match("1 2", "1 2\n", EXACT)
    assert outputs_match("1 2", "1 2\n", WHITESPACE)


def test_an_unknown_comparison_is_refused():
    with pytest.raises(ValueError, match="unknown comparison 'fuzzy'"):
        outputs_match("a", "a", "fuzzy")


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), FINITE, st.text(max_size=5)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


def as_tuples(value):
    if isinstance(value, list):
        return tuple(as_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: as_tuples(item) for key, item in value.items()}
    return value


@given(JSON)
def test_a_returned_value_matches_its_json_whether_lists_or_tuples(value):
    assert values_match(value, value)
    assert values_match(as_tuples(value), value)


def test_a_boolean_is_not_a_number_and_tolerance_applies_to_floats_only():
    assert not values_match(True, 1) and not values_match(1, True)
    assert values_match(0.30000000000000004, 0.3, 1e-9) and not values_match(0.30000000000000004, 0.3)
    assert not values_match(3, 4, 0.5)
