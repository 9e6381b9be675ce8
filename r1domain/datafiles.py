"""Reading uploaded JSONL datasets into the example dicts the stages consume.

Line shapes accepted: GSM8K (``question`` + ``answer`` whose last line is
``#### <final>``), plain (``prompt`` + ``answer``, optional ``task``/``language``), and the
non-reasoning SFT shapes ``prompt`` + ``response`` and chat ``messages`` (see
``_messages_example``), which carry a ``completion`` and task ``general``.
Parsing is all-or-nothing: a file either yields every example or raises
``DatasetFileError`` naming the first bad line, so a half-imported dataset never exists.
Files are read one line at a time (``iter_lines``, ``iter_jsonl``): a million-line upload
never sits in memory whole.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from r1domain.errors import R1WebError
from r1domain.json_text import PROBLEM, invalid_text_path

Example = dict[str, Any]

GSM8K_MARKER = "#### "
# One example this long is a mistake; the cap also bounds the memory one line can take.
MAX_LINE_BYTES = 32 * 2**20


class DatasetFileError(R1WebError):
    """A dataset file that cannot be used; the message names the line (1-based)."""


def decode_line(raw: bytes, name: str, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetFileError(f"{name} line {lineno}: invalid UTF-8 ({exc.reason})") from None


def iter_lines(
    stream: BinaryIO, name: str, *, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every non-blank line, decoded and stripped, one line in
    memory at a time. Lines end at ``\\n`` only, as ``bytes.split(b"\\n")`` would cut them."""
    lineno = 0
    while raw := stream.readline(max_line_bytes + 1):
        lineno += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            limit = max_line_bytes / 2**20
            raise DatasetFileError(f"{name} line {lineno}: longer than {limit:g} MiB")
        text = decode_line(raw, name, lineno).strip()
        if text:
            yield lineno, text


class _NonFinite(ValueError):
    pass


def _refuse_constant(constant: str) -> None:
    raise _NonFinite(constant)


def load_object(text: str, name: str, lineno: int) -> dict[str, Any]:
    where = f"{name} line {lineno}"
    try:
        # NaN and Infinity are not JSON, though Python's parser takes them by default.
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise DatasetFileError(f"{where}: invalid JSON ({exc.msg})") from None
    except _NonFinite as exc:
        raise DatasetFileError(f"{where}: {exc} is not a JSON number") from None
    except ValueError:  # an integer of thousands of digits, past Python's int() limit
        raise DatasetFileError(f"{where}: a number too long to read") from None
    except RecursionError:
        raise DatasetFileError(f"{where}: JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise DatasetFileError(f"{where}: expected a JSON object")
    path = invalid_text_path(value, text)
    if path is not None:
        raise DatasetFileError(f"{where}: field {path}: {PROBLEM}")
    return value


def text_value(value: Any) -> str | None:
    """A field's value as text: text itself, or a number written as text (files often
    hold answers as numbers); None for anything else (lists, objects, bytes, NaN)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)) and math.isfinite(value):
        return str(value)
    return None


def _type_name(value: Any) -> str:
    if isinstance(value, float):
        return "a non-finite number"
    return {dict: "an object", list: "a list", bytes: "binary data"}.get(
        type(value), type(value).__name__
    )


def _string_field(obj: dict[str, Any], field: str, name: str, lineno: int) -> str:
    value = obj.get(field)
    text = text_value(value)
    if text is None and value is not None and value != "":
        raise DatasetFileError(
            f"{name} line {lineno}: field {field!r} must be text, not {_type_name(value)}"
        )
    if text is None or not text.strip():
        raise DatasetFileError(f"{name} line {lineno}: missing or empty field {field!r}")
    return text


def optional_text(obj: dict[str, Any], field: str, default: str, where: str) -> str:
    """An optional text field (task, split, language): ``default`` when absent or empty."""
    value = obj.get(field)
    if value is None or value == "":
        return default
    text = text_value(value)
    if text is None:
        raise DatasetFileError(f"{where}: field {field!r} must be text, not {_type_name(value)}")
    return text


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
        "task": optional_text(obj, "task", "math", f"{name} line {lineno}"),
    }
    language = optional_text(obj, "language", "", f"{name} line {lineno}")
    if language:
        example["language"] = language
    return example


# Non-reasoning SFT lines (DeepSeek-R1 step 4): prompt/response pairs and chat transcripts.
CHAT_ROLES = ("system", "user", "assistant")


def _response_example(obj: dict[str, Any], name: str, lineno: int) -> Example:
    """``prompt`` + ``response``: the response is the SFT completion; no reference answer."""
    return {
        "prompt": _string_field(obj, "prompt", name, lineno).strip(),
        "answer": "",
        "completion": _string_field(obj, "response", name, lineno).strip(),
        "task": optional_text(obj, "task", "general", f"{name} line {lineno}"),
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
        "task": optional_text(obj, "task", "general", where),
    }


def _general_builder(obj: dict[str, Any]):
    """The parser for a non-reasoning line, or None for any other shape."""
    if "messages" in obj:
        return _messages_example
    if "response" in obj and "question" not in obj:
        return _response_example
    return None


def example_from_object(obj: dict[str, Any], name: str, lineno: int) -> Example:
    """One line's object (GSM8K, plain, prompt/response or chat) as an example."""
    build = _general_builder(obj) or (_gsm8k_example if "question" in obj else _plain_example)
    example = build(obj, name, lineno)
    example["key"] = f"{name}:{lineno}"
    example["split"] = optional_text(obj, "split", "", f"{name} line {lineno}")
    return example


def parse_line(text: str, name: str, lineno: int) -> Example:
    return example_from_object(load_object(text, name, lineno), name, lineno)


def iter_jsonl(stream: BinaryIO, name: str) -> Iterator[Example]:
    """Every example of a JSONL stream, one at a time; blank lines are skipped."""
    for lineno, text in iter_lines(stream, name):
        yield parse_line(text, name, lineno)


def _all_of(examples: Iterator[Example], name: str) -> list[Example]:
    examples = list(examples)
    if not examples:
        raise DatasetFileError(f"{name}: no examples")
    return examples


def parse_jsonl_bytes(data: bytes, name: str) -> list[Example]:
    """Every example of a JSONL file's content; blank lines are skipped."""
    return _all_of(iter_jsonl(io.BytesIO(data), name), name)


def load_jsonl(path: str | Path) -> list[Example]:
    """``parse_jsonl_bytes`` on a file, read line by line; keys are ``<file name>:<line>``."""
    path = Path(path)
    with path.open("rb") as stream:
        return _all_of(iter_jsonl(stream, path.name), path.name)
