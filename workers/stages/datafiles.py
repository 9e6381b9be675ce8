"""Reading uploaded JSONL datasets into the example dicts the stages consume.

Two line shapes are accepted: GSM8K (``question`` + ``answer`` whose last line is
``#### <final>``) and plain (``prompt`` + ``answer``, optional ``task``/``language``).
Parsing is all-or-nothing: a file either yields every example or raises
``DatasetFileError`` naming the first bad line, so a half-imported dataset never exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Example = dict[str, Any]

GSM8K_MARKER = "#### "


class DatasetFileError(ValueError):
    """A dataset file that cannot be used; the message names the line (1-based)."""


def decode_line(raw: bytes, name: str, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetFileError(f"{name} line {lineno}: invalid UTF-8 ({exc.reason})") from None


def load_object(text: str, name: str, lineno: int) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetFileError(f"{name} line {lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise DatasetFileError(f"{name} line {lineno}: expected a JSON object")
    return value


def _string_field(obj: dict[str, Any], field: str, name: str, lineno: int) -> str:
    value = obj.get(field)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise DatasetFileError(f"{name} line {lineno}: missing or empty field {field!r}")
    return value


def gsm8k_final_answer(solution: str) -> str | None:
    """The text after the last '#### ', thousands separators removed."""
    if GSM8K_MARKER not in solution:
        return None
    final = solution.rsplit(GSM8K_MARKER, 1)[1].strip().replace(",", "")
    return final or None


def _gsm8k_example(obj: dict[str, Any], name: str, lineno: int) -> Example:
    question = _string_field(obj, "question", name, lineno)
    solution = _string_field(obj, "answer", name, lineno)
    final = gsm8k_final_answer(solution)
    if final is None:
        raise DatasetFileError(f"{name} line {lineno}: answer has no '#### <final answer>'")
    return {"prompt": question.strip(), "answer": final, "task": "gsm8k", "solution": solution}


def _plain_example(obj: dict[str, Any], name: str, lineno: int) -> Example:
    example: Example = {
        "prompt": _string_field(obj, "prompt", name, lineno).strip(),
        "answer": _string_field(obj, "answer", name, lineno).strip(),
        "task": str(obj.get("task") or "math"),
    }
    if obj.get("language"):
        example["language"] = str(obj["language"])
    return example


def parse_line(text: str, name: str, lineno: int) -> Example:
    obj = load_object(text, name, lineno)
    build = _gsm8k_example if "question" in obj else _plain_example
    example = build(obj, name, lineno)
    example["key"] = f"{name}:{lineno}"
    example["split"] = str(obj.get("split") or "")
    return example


def parse_jsonl_bytes(data: bytes, name: str) -> list[Example]:
    """Every example of a JSONL file's content; blank lines are skipped."""
    examples = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        text = decode_line(raw, name, lineno).strip()
        if text:
            examples.append(parse_line(text, name, lineno))
    if not examples:
        raise DatasetFileError(f"{name}: no examples")
    return examples


def load_jsonl(path: str | Path) -> list[Example]:
    """``parse_jsonl_bytes`` on a file; keys are ``<file name>:<line>``."""
    path = Path(path)
    return parse_jsonl_bytes(path.read_bytes(), path.name)
