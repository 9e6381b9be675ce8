"""Comparing a program's output, or a function's return value, with the expected one.

Three ways, from strict to lenient: ``exact`` (byte for byte), ``whitespace`` (the same
tokens, however spaced or split into lines: what most judges of competitive programming
accept) and ``float`` (``whitespace``, with numbers equal within a tolerance).
"""

from __future__ import annotations

import math
from typing import Any

EXACT, WHITESPACE, FLOAT = "exact", "whitespace", "float"
COMPARISONS = (EXACT, WHITESPACE, FLOAT)
DEFAULT_TOLERANCE = 1e-6


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def close(actual: float, expected: float, tolerance: float) -> bool:
    """Within ``tolerance``, absolute or relative to the expected value."""
    return abs(actual - expected) <= tolerance * max(1.0, abs(expected))


def _tokens_close(actual: str, expected: str, tolerance: float) -> bool:
    if actual == expected:
        return True
    a, b = _number(actual), _number(expected)
    return a is not None and b is not None and close(a, b, tolerance)


def outputs_match(
    actual: str, expected: str, comparison: str = WHITESPACE,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """Does a program's standard output answer a case whose answer is ``expected``?"""
    if comparison == EXACT:
        return actual == expected
    got, want = actual.split(), expected.split()
    if comparison == WHITESPACE:
        return got == want
    if comparison == FLOAT:
        return len(got) == len(want) and all(
            _tokens_close(a, b, tolerance) for a, b in zip(got, want)
        )
    raise ValueError(f"unknown comparison {comparison!r} (known: {', '.join(COMPARISONS)})")


def values_match(actual: Any, expected: Any, tolerance: float | None = None) -> bool:
    """A returned value against a JSON expected value: tuples equal lists, numbers are
    compared within ``tolerance`` when one is given, booleans are never numbers."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if tolerance is None or (isinstance(expected, int) and isinstance(actual, int)):
            return actual == expected
        return math.isfinite(actual) and math.isfinite(expected) and close(
            actual, expected, tolerance
        )
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        return len(actual) == len(expected) and all(
            values_match(a, b, tolerance) for a, b in zip(actual, expected)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        got = {str(key): value for key, value in actual.items()}
        return got.keys() == expected.keys() and all(
            values_match(got[key], value, tolerance) for key, value in expected.items()
        )
    return type(actual) is type(expected) and actual == expected
