"""Reading uploaded JSONL datasets into the example dicts the stages consume.

Line shapes accepted: GSM8K (``question`` + ``answer`` whose last line is
``#### <final>``), plain (``prompt`` + ``answer``, optional ``task``/``language``), and the
non-reasoning SFT shapes ``prompt`` + ``response`` and chat ``messages`` (see
``_messages_example``), which carry a ``completion`` and task ``general``.
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


# Non-reasoning SFT lines (DeepSeek-R1 step 4): prompt/response pairs and chat transcripts.
CHAT_ROLES = ("system", "user", "assistant")


def _response_example(obj: dict[str, Any], name: str, lineno: int) -> Example:
    """``prompt`` + ``response``: the response is the SFT completion; no reference answer."""
    return {
        "prompt": _string_field(obj, "prompt", name, lineno).strip(),
        "answer": "",
        "completion": _string_field(obj, "response", name, lineno).strip(),
        "task": str(obj.get("task") or "general"),
    }


def _chat_turn(message: Any, where: str, number: int) -> tuple[str, str]:
    if not isinstance(message, dict):
        raise DatasetFileError(
            f"{where}: message {number} must be an object with 'role' and 'content'"
        )
    role, content = message.get("role"), message.get("content")
    if role not in CHAT_ROLES:
        raise DatasetFileError(
            f"{where}: message {number} needs a 'role' of {', '.join(CHAT_ROLES)}, not {role!r}"
        )
    if not isinstance(content, str) or not content.strip():
        raise DatasetFileError(f"{where}: message {number} needs a non-empty text 'content'")
    return role, content.strip()


def render_chat_prompt(turns: list[tuple[str, str]]) -> str:
    """The turns before the final reply as one prompt text.

    A lone user turn is its bare text, so a one-question chat imports exactly like a
    prompt/response line. Longer histories get one ``Role: content`` line per turn, e.g.
    ``System: be brief\nUser: hi\nAssistant: hello\nUser: bye``.
    """
    if len(turns) == 1:
        return turns[0][1]
    return "\n".join(f"{role.capitalize()}: {content}" for role, content in turns)


def _messages_example(obj: dict[str, Any], name: str, lineno: int) -> Example:
    """``messages``: a chat whose last message, the assistant's, is the completion."""
    where = f"{name} line {lineno}"
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DatasetFileError(f"{where}: 'messages' must be a non-empty list of messages")
    turns = [_chat_turn(message, where, i) for i, message in enumerate(messages, start=1)]
    if turns[-1][0] != "assistant":
        raise DatasetFileError(f"{where}: the last message must be the assistant's reply")
    if len(turns) < 2 or turns[-2][0] != "user":
        raise DatasetFileError(f"{where}: the assistant's last reply must follow a user message")
    return {
        "prompt": render_chat_prompt(turns[:-1]),
        "answer": "",
        "completion": turns[-1][1],
        "task": str(obj.get("task") or "general"),
    }


def _general_builder(obj: dict[str, Any]):
    """The parser for a non-reasoning line, or None for any other shape."""
    if "messages" in obj:
        return _messages_example
    if "response" in obj and "question" not in obj:
        return _response_example
    return None


def parse_line(text: str, name: str, lineno: int) -> Example:
    obj = load_object(text, name, lineno)
    build = _general_builder(obj) or (_gsm8k_example if "question" in obj else _plain_example)
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
