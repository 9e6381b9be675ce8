"""The trace table's columns: which exist, which show by default, which a URL asks for.

The choice is a URL parameter (``cols=prompt&cols=reward``), so a table with chosen
columns can be bookmarked and shared like a filter.
"""

from __future__ import annotations

from django.http import QueryDict

# key -> header, in table order; the sample id is always shown.
COLUMNS: dict[str, str] = {
    "run": "Run / stage",
    "step": "Step",
    "group": "Group",
    "prompt": "Prompt",
    "reward": "Reward",
    "advantage": "Advantage",
    "correct": "Correct",
    "format": "Format",
    "reflection": "Reflection",
    "tokens": "Tokens",
    "verdict": "Verdict",
    "flags": "Flags",
    "completion": "Completion",
}
# Format and verdict are rarely read: off unless asked for (or filtered on, for verdict).
DEFAULT = tuple(key for key in COLUMNS if key not in {"format", "verdict"})


def chosen_columns(params: QueryDict) -> list[str]:
    """The columns ``params`` asks for, in table order; the defaults when it asks none."""
    asked = set(params.getlist("cols")) & set(COLUMNS)
    if not asked:
        asked = set(DEFAULT)
        if params.get("verdict"):
            asked.add("verdict")
    return [key for key in COLUMNS if key in asked]
