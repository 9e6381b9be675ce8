"""The ingestion API's JSON, checked field by field before anything is written.

Every request body is one JSON object. What is refused, with the path of the offending
value (``samples[3].reward: must be a finite number``): anything that is not JSON, NaN
or Infinity (Python's parser takes them, JSON does not, and neither does a database
float), numbers past 1e308 that would read as infinity, integers too long to read,
nesting deeper than ``MAX_DEPTH``, unknown fields, wrong types, out-of-range integers
and over-long texts. NUL bytes are not refused in texts: PostgreSQL cannot store them,
so ``r1web.safe_text`` replaces them, as it does for r1web's own samples.

Plain Python, no Django: the limits are the only state.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from r1domain.errors import R1WebError
from r1domain.formats import FORMATS, R1_ZERO

MAX_DEPTH = 32
MAX_TEXT = 1_000_000  # characters in one prompt or completion
MAX_REFERENCE = 100_000
MAX_SAMPLES = 50_000  # per request
MAX_METRIC_STEPS = 10_000  # per request
MAX_KEYS = 1_000  # metric keys at one step
MAX_REWARDS = 64  # reward functions per sample
MAX_CONFIG_BYTES = 256 * 2**10
MAX_INT = 2**31 - 1  # the database's integer columns
MAX_INDEX = 32_767  # a small integer column
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
KINDS = ("grpo", "sft")
FINISH_STATUSES = ("succeeded", "failed", "cancelled")


class SchemaError(R1WebError):
    """A request body that does not fit the schema; the message names the value."""


# --- parsing ---------------------------------------------------------------------


class _NonFinite(ValueError):
    pass


def _refuse_constant(constant: str) -> None:
    raise _NonFinite(constant)


def parse_body(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; ``SchemaError`` for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"body: invalid UTF-8 ({exc.reason})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"body: invalid JSON ({exc.msg} at character {exc.pos})") from None
    except _NonFinite as exc:
        raise SchemaError(f"body: {exc} is not a JSON number") from None
    except RecursionError:
        raise SchemaError("body: JSON nested too deeply") from None
    except ValueError:  # an integer of thousands of digits, past Python's int() limit
        raise SchemaError("body: a number too long to read") from None
    if not isinstance(value, dict):
        raise SchemaError("body: expected a JSON object")
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SchemaError(f"body: nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


# --- field checks ----------------------------------------------------------------


def _fields(obj: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise SchemaError(f"{where}: must be an object")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise SchemaError(f"{where}: unknown field {unknown[0][:60]!r}")
    return obj


def integer(value: Any, where: str, *, high: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{where}: must be an integer")
    if not 0 <= value <= high:
        raise SchemaError(f"{where}: must be between 0 and {high}")
    return value


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(f"{where}: must be a number")
    try:
        result = float(value)
    except OverflowError:  # an integer past 1e308
        raise SchemaError(f"{where}: must be a finite number") from None
    if not math.isfinite(result):  # 1e999 parses to infinity
        raise SchemaError(f"{where}: must be a finite number")
    return result


def text(value: Any, where: str, *, limit: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise SchemaError(f"{where}: must be text")
    if len(value) > limit:
        raise SchemaError(f"{where}: longer than {limit} characters")
    return value


def boolean(value: Any, where: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise SchemaError(f"{where}: must be true or false")
    return value


def _numbers(obj: Any, where: str, *, limit: int, key_length: int) -> dict[str, float]:
    if not isinstance(obj, dict):
        raise SchemaError(f"{where}: must be an object of numbers")
    if len(obj) > limit:
        raise SchemaError(f"{where}: more than {limit} entries")
    result = {}
    for key, value in obj.items():
        if not key or len(key) > key_length:
            raise SchemaError(f"{where}: a key must be 1 to {key_length} characters")
        result[key] = number(value, f"{where}.{key[:60]}")
    return result


def run_key(value: Any, where: str = "key") -> str:
    if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
        raise SchemaError(f"{where}: 1 to 64 letters, digits, '.', '_' or '-'")
    return value


# --- the three bodies --------------------------------------------------------------


@dataclass(frozen=True)
class RunOpen:
    key: str
    name: str
    kind: str
    config: dict
    completion_format: str = R1_ZERO


def run_open(body: dict[str, Any]) -> RunOpen:
    obj = _fields(body, "body", {"key", "name", "kind", "config", "completion_format"})
    kind = obj.get("kind", "grpo")
    if kind not in KINDS:
        raise SchemaError(f"kind: one of {', '.join(KINDS)}")
    fmt = obj.get("completion_format", R1_ZERO)
    if fmt not in FORMATS:
        raise SchemaError(f"completion_format: one of {', '.join(FORMATS)}")
    config = obj.get("config", {})
    if not isinstance(config, dict):
        raise SchemaError("config: must be an object")
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise SchemaError(f"config: larger than {MAX_CONFIG_BYTES // 1024} KiB")
    name = text(obj.get("name"), "name", limit=200, required=False).strip()
    return RunOpen(run_key(obj.get("key")), name, kind, config, fmt)


SAMPLE_FIELDS = {
    "step",
    "group",
    "index",
    "prompt",
    "completion",
    "rewards",
    "reward",
    "advantage",
    "length_tokens",
    "correct",
    "format_ok",
    "reference",
    "example_key",
}


def sample(obj: Any, where: str) -> dict[str, Any]:
    """One completion, its required fields checked and its optional ones defaulted."""
    obj = _fields(obj, where, SAMPLE_FIELDS)
    completion = text(obj.get("completion"), f"{where}.completion", limit=MAX_TEXT)
    rewards = _numbers(
        obj.get("rewards", {}), f"{where}.rewards", limit=MAX_REWARDS, key_length=100
    )
    reward = obj.get("reward")
    length = obj.get("length_tokens")
    return {
        "step": integer(obj.get("step"), f"{where}.step"),
        "group": integer(obj.get("group"), f"{where}.group"),
        "index": integer(obj.get("index"), f"{where}.index", high=MAX_INDEX),
        "prompt": text(obj.get("prompt"), f"{where}.prompt", limit=MAX_TEXT),
        "completion": completion,
        "rewards": rewards,
        "reward": sum(rewards.values()) if reward is None else number(reward, f"{where}.reward"),
        "advantage": number(obj.get("advantage", 0.0), f"{where}.advantage"),
        # Without a count from the tokenizer, words stand in for tokens.
        "length_tokens": len(completion.split())
        if length is None
        else integer(length, f"{where}.length_tokens"),
        "correct": boolean(obj.get("correct"), f"{where}.correct"),
        "format_ok": boolean(obj.get("format_ok"), f"{where}.format_ok"),
        "reference": text(
            obj.get("reference"), f"{where}.reference", limit=MAX_REFERENCE, required=False
        ),
        "example_key": text(
            obj.get("example_key"), f"{where}.example_key", limit=200, required=False
        ),
    }


@dataclass(frozen=True)
class Records:
    samples: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    progress: tuple[int, int] | None = None


def records(body: dict[str, Any]) -> Records:
    obj = _fields(body, "body", {"samples", "metrics", "progress"})
    samples = obj.get("samples", [])
    if not isinstance(samples, list):
        raise SchemaError("samples: must be a list")
    if len(samples) > MAX_SAMPLES:
        raise SchemaError(f"samples: more than {MAX_SAMPLES} in one request")
    metrics = obj.get("metrics", [])
    if not isinstance(metrics, list):
        raise SchemaError("metrics: must be a list")
    if len(metrics) > MAX_METRIC_STEPS:
        raise SchemaError(f"metrics: more than {MAX_METRIC_STEPS} steps in one request")
    return Records(
        samples=[sample(item, f"samples[{i}]") for i, item in enumerate(samples)],
        metrics=[_metric(item, f"metrics[{i}]") for i, item in enumerate(metrics)],
        progress=_progress(obj.get("progress")),
    )


def _metric(obj: Any, where: str) -> tuple[int, dict[str, float]]:
    obj = _fields(obj, where, {"step", "values"})
    values = _numbers(obj.get("values"), f"{where}.values", limit=MAX_KEYS, key_length=200)
    return integer(obj.get("step"), f"{where}.step"), values


def _progress(obj: Any) -> tuple[int, int] | None:
    if obj is None:
        return None
    obj = _fields(obj, "progress", {"step", "total"})
    return integer(obj.get("step"), "progress.step"), integer(obj.get("total", 0), "progress.total")


@dataclass(frozen=True)
class Finish:
    status: str
    error: str = ""


def finish(body: dict[str, Any]) -> Finish:
    obj = _fields(body, "body", {"status", "error"})
    status = obj.get("status", "succeeded")
    if status not in FINISH_STATUSES:
        raise SchemaError(f"status: one of {', '.join(FINISH_STATUSES)}")
    return Finish(status, text(obj.get("error"), "error", limit=5000, required=False))
