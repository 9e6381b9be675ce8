"""Text from models and files made safe to store, whatever bytes it holds.

PostgreSQL refuses NUL (``\\x00``) in text and JSON; a model can emit one at any time,
and one refused row would fail a whole stage. NUL becomes U+FFFD (the replacement
character), which shows where something unprintable was; nothing else changes.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def db_text(value: str) -> str:
    return value.replace("\x00", REPLACEMENT) if "\x00" in value else value


def db_json(value: Any) -> Any:
    """``db_text`` over every string of a JSON-shaped value, keys included."""
    if isinstance(value, str):
        return db_text(value)
    if isinstance(value, dict):
        return {db_json(k) if isinstance(k, str) else k: db_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [db_json(v) for v in value]
    return value
