"""The ingestion API's JSON, checked field by field before anything is written.

Every request body is one JSON object. What is refused, with the path of the offending
value (``samples[3].reward: must be a finite number ...``): anything that is not JSON,
NaN or Infinity (Python's parser takes them, JSON does not, and neither does a database
float), numbers past ``MAX_NUMBER`` (and sums of rewards past it), integers too long to
read, nesting deeper than ``MAX_DEPTH``, text that is not valid Unicode (a lone
surrogate: ``r1domain.json_text``), unknown fields, wrong types, out-of-range integers,
over-long texts, and NUL in a metric's name. NUL bytes are not refused in texts:
PostgreSQL cannot store them, so ``r1web.safe_text`` replaces them, as it does for
r1web's own samples.

Plain Python, no Django: the limits are the only state. A later framework (an OpenAPI
schema) calls these same functions.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from r1domain.errors import R1WebError
from r1domain.formats import FORMATS, R1_ZERO
from r1domain.json_text import PROBLEM, invalid_text_path

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
# Past any float32 training value (3.4e38), and small enough that the database's mean of
# a step's rewards never overflows: PostgreSQL's avg() keeps a sum of squares, which is
# infinite (an error, a 500) for two values of 1e155 and opposite signs.
MAX_NUMBER = 1e100
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
KINDS = ("grpo", "sft")
# Config keys whose values are secrets (TRL's hub_token, a logger's api_key, ...): stored
# as MASK, so no page ever shows them.
SECRET_KEY = re.compile(r"(^|[_-])(token|key)$|password|passwd|secret", re.IGNORECASE)
MASK = "***"
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
    path = invalid_text_path(value, text)
    if path is not None:
        raise SchemaError(f"{path}: {PROBLEM}", field=path)
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
        raise SchemaError(f"{where}: must be an object", field=where)
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise SchemaError(f"{where}: unknown field {unknown[0][:60]!r}", field=where)
    return obj


def integer(value: Any, where: str, *, high: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{where}: must be an integer", field=where)
    if not 0 <= value <= high:
        raise SchemaError(f"{where}: must be between 0 and {high}", field=where)
    return value


def number(value: Any, where: str) -> float:
    """A number within ``MAX_NUMBER`` either way, as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(f"{where}: must be a number", field=where)
    try:
        result = float(value)
    except OverflowError:  # an integer past 1e308
        result = math.inf
    # NaN and 1e999 (parsed as infinity) fail both comparisons.
    if not -MAX_NUMBER <= result <= MAX_NUMBER:
        raise SchemaError(
            f"{where}: must be a finite number from {-MAX_NUMBER:g} to {MAX_NUMBER:g}",
            field=where,
        )
    return result


def text(value: Any, where: str, *, limit: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise SchemaError(f"{where}: must be text", field=where)
    if len(value) > limit:
        raise SchemaError(f"{where}: longer than {limit} characters", field=where)
    return value


def boolean(value: Any, where: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise SchemaError(f"{where}: must be true or false", field=where)
    return value


def _numbers(obj: Any, where: str, *, limit: int, key_length: int) -> dict[str, float]:
    if not isinstance(obj, dict):
        raise SchemaError(f"{where}: must be an object of numbers", field=where)
    if len(obj) > limit:
        raise SchemaError(f"{where}: more than {limit} entries", field=where)
    result = {}
    for key, value in obj.items():
        if not key or len(key) > key_length or "\x00" in key:
            raise SchemaError(
                f"{where}: a key must be 1 to {key_length} characters, no NUL", field=where
            )
        result[key] = number(value, f"{where}.{key[:60]}")
    return result


def run_key(value: Any, where: str = "key") -> str:
    if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
        raise SchemaError(f"{where}: 1 to 64 letters, digits, '.', '_' or '-'", field=where)
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
        raise SchemaError(f"kind: one of {', '.join(KINDS)}", field="kind")
    fmt = obj.get("completion_format", R1_ZERO)
    if fmt not in FORMATS:
        raise SchemaError(
            f"completion_format: one of {', '.join(FORMATS)}", field="completion_format"
        )
    config = obj.get("config", {})
    if not isinstance(config, dict):
        raise SchemaError("config: must be an object", field="config")
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise SchemaError(f"config: larger than {MAX_CONFIG_BYTES // 1024} KiB", field="config")
    name = text(obj.get("name"), "name", limit=200, required=False).strip()
    return RunOpen(run_key(obj.get("key")), name, kind, masked(config), fmt)


def masked(value: Any) -> Any:
    """``value`` with every secret-named key's value replaced by ``MASK``, at any depth
    (an unset secret, None or "", stays as it is: there is nothing to hide)."""
    if isinstance(value, list):
        return [masked(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: MASK if SECRET_KEY.search(key) and item not in (None, "") else masked(item)
        for key, item in value.items()
    }


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
        # The sum is checked, not only its parts: 64 rewards under the bound can add up
        # past it.
        "reward": number(sum(rewards.values()) if reward is None else reward, f"{where}.reward"),
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
        raise SchemaError("samples: must be a list", field="samples")
    if len(samples) > MAX_SAMPLES:
        raise SchemaError(f"samples: more than {MAX_SAMPLES} in one request", field="samples")
    metrics = obj.get("metrics", [])
    if not isinstance(metrics, list):
        raise SchemaError("metrics: must be a list", field="metrics")
    if len(metrics) > MAX_METRIC_STEPS:
        raise SchemaError(
            f"metrics: more than {MAX_METRIC_STEPS} steps in one request", field="metrics"
        )
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
        raise SchemaError(f"status: one of {', '.join(FINISH_STATUSES)}", field="status")
    return Finish(status, text(obj.get("error"), "error", limit=5000, required=False))
