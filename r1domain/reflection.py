"""Counting self-reflection ("aha moment") phrases in a chain of thought.

The list is the one public R1-Zero reproductions count (see R1_PIPELINE.md). Base models
already contain some of it (oat-zero), so a rate only means something next to the base
model's rate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REFLECTION_PHRASES: tuple[str, ...] = (
    "wait",
    "recheck",
    "rethink",
    "re-evaluate",
    "re-examine",
    "reconsider",
    "reassess",
    "double-check",
    "check again",
    "think again",
    "try again",
    "retry",
    "alternatively",
    "however",
    "verify again",
    "go over the steps",
)


def _phrase_pattern(phrase: str) -> str:
    # "re-evaluate" also matches "reevaluate" / "re evaluate"; spaces match any whitespace.
    parts = [re.escape(word) for word in re.split(r"[\s-]+", phrase)]
    joiner = r"[\s-]?" if "-" in phrase else r"\s+"
    return joiner.join(parts)


# Longest first so "check again" is not also counted as a shorter overlapping phrase.
REFLECTION_PATTERN = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(_phrase_pattern(p) for p in sorted(REFLECTION_PHRASES, key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)


def normalise_phrase(matched: str) -> str:
    """Map a matched spelling ("Re-Evaluate", "reevaluate") onto its list entry."""
    squashed = re.sub(r"[\s-]+", "", matched.lower())
    for phrase in REFLECTION_PHRASES:
        if re.sub(r"[\s-]+", "", phrase) == squashed:
            return phrase
    return matched.lower()


def find_reflection_phrases(text: str) -> list[str]:
    """Every occurrence, in order, normalised to the list's spelling."""
    return [normalise_phrase(m.group(0)) for m in REFLECTION_PATTERN.finditer(text)]


def reflection_rate(thinks: Iterable[str]) -> float:
    """Share of reasoning texts with at least one reflection phrase (0.0 for none)."""
    flags = [bool(find_reflection_phrases(text)) for text in thinks]
    return sum(flags) / len(flags) if flags else 0.0
