"""Property: whatever a user types as a TRL config, the form's parser and the field checks
answer with their own error or with a config that is safe to store; never another
exception (a 500 on the launch page)."""

from __future__ import annotations

import json
import math

from django import forms
from hypothesis import example, given, settings
from hypothesis import strategies as st

from r1domain.base import ConfigError
from r1domain.trl_fields import CONFIG_CLASSES, check_trl_config, settable_fields
from r1web.runs.forms import MAX_JSON_DEPTH, parse_trl_config

FIELD_NAMES = sorted({name for config in CONFIG_CLASSES for name in settable_fields(config)})
NUMBERS = st.one_of(
    st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=20))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=20,
)
NAMES = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=30))
CONFIGS = st.dictionaries(NAMES, JSON_VALUES, max_size=8)


def _json_text(value) -> str:
    # Python writes NaN/Infinity, which its parser reads back: exactly the hostile case.
    return json.dumps(value)


def _lines_text(config: dict) -> str:
    return "\n".join(f"{name}={_json_text(value)}" for name, value in config.items())


def _assert_storable(config: dict) -> None:
    """What reaches the database: JSON that PostgreSQL's jsonb accepts, not too deep."""
    json.dumps(config, allow_nan=False)
    from r1web.runs.forms import _depth

    assert _depth(config) <= MAX_JSON_DEPTH


def _check_all_classes(config: dict) -> None:
    for config_class in CONFIG_CLASSES:
        try:
            checked = check_trl_config(config, config_class)
        except ConfigError as exc:
            assert str(exc)
            continue
        assert set(checked) == set(config)
        _assert_storable(checked)
        for value in checked.values():
            assert not isinstance(value, float) or math.isfinite(value)


@settings(max_examples=100, deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    CONFIGS.map(_json_text),
    CONFIGS.map(_lines_text),
    JSON_VALUES.map(_json_text),
))
@example('{"learning_rate": ' + "9" * 5000 + "}")
@example("max_steps=" + "9" * 5000)
@example('{"learning_rate": ' + "9" * 400 + "}")
@example('{"a": ' + "[" * 2000 + "]" * 2000 + "}")
@example("a=" + "[" * 800 + "]" * 800)
@example('{"learning_rate": 1e999}')
@example("learning_rate=1e5\x00")
def test_any_config_text_parses_to_a_storable_config_or_a_form_error(text):
    try:
        config = parse_trl_config(text, "GRPOConfig")
    except forms.ValidationError as exc:
        assert exc.messages
        return
    assert isinstance(config, dict)
    _assert_storable(config)
    _check_all_classes(config)


@settings(max_examples=100, deadline=None)
@given(st.one_of(CONFIGS, JSON_VALUES))
@example({"learning_rate": 10**400})
@example({"warmup_steps": 10**400, "reward_weights": [10**400]})
@example({"max_steps": float("nan"), "temperature": float("inf")})
@example({1: 2})
def test_the_field_checks_answer_any_value_with_a_config_error_or_a_clean_config(fields):
    _check_all_classes(fields)


def _trl_default(config_class: str, name: str):
    import dataclasses

    import trl

    fields = {f.name: f for f in dataclasses.fields(getattr(trl, config_class))}
    default = fields[name].default
    return default if isinstance(default, (int, float)) and not isinstance(default, bool) else None


def _inside(spec, config_class: str, name: str) -> int | float | None:
    """A number the field must accept: TRL's own default for it, when that is a number
    inside r1web's range; None otherwise."""
    default = _trl_default(config_class, name)
    if default is None or spec.lo is None or not spec.lo <= default <= spec.hi:
        return None
    return default


@given(st.sampled_from(FIELD_NAMES), NUMBERS)
@settings(max_examples=100, deadline=None)
def test_a_number_is_accepted_only_when_finite_and_in_range(name, value):
    checked_a_field = False
    for config_class in CONFIG_CLASSES:
        spec = settable_fields(config_class).get(name)
        if spec is None:
            continue
        # Not vacuous: a refusal of every value would fail here, on the field's own range.
        inside = _inside(spec, config_class, name)
        if inside is not None:
            assert check_trl_config({name: inside}, config_class)[name] == inside
            checked_a_field = True
        try:
            checked = check_trl_config({name: value}, config_class)[name]
        except ConfigError:
            continue
        assert not isinstance(checked, float) or math.isfinite(checked)
        if spec.lo is not None and isinstance(checked, (int, float)) and checked not in spec.also:
            assert spec.lo <= checked <= spec.hi
    assert checked_a_field or name in NO_NUMERIC_DEFAULT


# Settable fields whose TRL default is not a number inside r1web's range (None, a string
# choice, a list): the property checks only their refusals.
NO_NUMERIC_DEFAULT = {
    name for name in FIELD_NAMES
    if all(_inside(settable_fields(c)[name], c, name) is None
           for c in CONFIG_CLASSES if name in settable_fields(c))
}
