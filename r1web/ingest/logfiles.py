"""Existing rollout logs read as completions: TRL's completions parquet files and verl's
rollout JSONL dumps.

* TRL (``GRPOConfig(log_completions=True)``) writes ``output_dir/completions/
  completions_<step>.parquet`` at every log: columns ``step``, ``prompt``,
  ``completion``, one column per reward function (named after it; NaN where it did
  not apply), any ``log_extra`` columns, and ``advantage``. Prompts and completions are
  text, or chat messages for conversational datasets.
* verl (``trainer.rollout_data_dir``) writes ``<step>.jsonl``: one line per completion
  with ``input``, ``output``, ``score``, ``step``, often ``gts`` (the reference) and
  every per-sample reward detail (``acc``, ``pred``, ...). It writes no advantage: the
  GRPO one is computed here from the scores of each group.

Neither says which completions share a prompt: within a step, completions of the same
prompt form a group, numbered in order of first appearance (``num_generations`` splits a
prompt drawn twice into groups of that size). Every row is checked as the API checks a
sample; the first bad one raises ``LogFileError`` naming its file and row or line.
Plain Python and pyarrow: no Django.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from r1domain.datafiles import (
    DatasetFileError,
    iter_lines,
    load_object,
    render_chat_prompt,
    text_value,
)
from r1domain.errors import R1WebError
from r1web.ingest import schema

FORMATS = ("trl", "verl")
TRL_COLUMNS = {"step", "prompt", "completion", "advantage", "image", "images"}
VERL_COLUMNS = {"input", "output", "score", "step", "gts"}
ARROW_BATCH_ROWS = 4096

LogFile = tuple[str, Path]  # the name messages use, where the bytes are


class LogFileError(R1WebError):
    """A log file that cannot be imported; the message names the file and row or line."""


def expand(paths: list[Path], fmt: str) -> list[LogFile]:
    """Files to read, in step order: a folder stands for its ``*.parquet`` (TRL) or
    ``*.jsonl`` (verl) files."""
    suffix = ".parquet" if fmt == "trl" else ".jsonl"
    files: list[LogFile] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob(f"*{suffix}"), key=_step_order)
            if not found:
                raise LogFileError(f"{path.name}: no {suffix} files in this folder")
            files.extend((f.name, f) for f in found)
        elif path.is_file():
            files.append((path.name, path))
        else:
            raise LogFileError(f"{path}: no such file or folder")
    return files


def _step_order(path: Path) -> tuple[int, str]:
    digits = "".join(c for c in path.stem if c.isdigit())
    return (int(digits) if digits else -1, path.name)


def detect_format(files: list[LogFile]) -> str:
    return "trl" if all(name.endswith(".parquet") for name, _ in files) else "verl"


def read_rollouts(
    files: list[LogFile], fmt: str = "auto", num_generations: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every completion of ``files`` as a dict ``schema.sample`` checked."""
    fmt = detect_format(files) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise LogFileError(f"unknown log format {fmt!r} (known: {', '.join(FORMATS)})")
    read = _trl_rows if fmt == "trl" else _verl_rows
    for name, path in files:
        rows = list(read(name, path))
        if not rows:
            raise LogFileError(f"{name}: no completions")
        yield from _grouped(rows, num_generations, advantages=fmt == "verl")


# --- TRL ---------------------------------------------------------------------------


def _trl_rows(name: str, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    errors = (pa.ArrowException, OSError, ValueError, TypeError, ArithmeticError)
    try:
        parquet = pq.ParquetFile(path)
        arrow_schema = parquet.schema_arrow
    except errors as exc:
        raise LogFileError(f"{name}: not a readable Parquet file ({exc})") from None
    missing = sorted({"step", "prompt", "completion"} - set(arrow_schema.names))
    if missing:
        raise LogFileError(f"{name}: not a TRL completions file (no column {missing[0]!r})")
    reward_columns = [
        f.name
        for f in arrow_schema
        if f.name not in TRL_COLUMNS
        and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))
    ]
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=ARROW_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                yield f"{name} row {number}", _trl_row(row, reward_columns, f"{name} row {number}")
    except errors as exc:
        raise LogFileError(
            f"{name} row {number + 1}: a value that cannot be read ({exc})"
        ) from None


def _trl_row(row: dict[str, Any], reward_columns: list[str], where: str) -> dict[str, Any]:
    rewards = {}
    for column in reward_columns:
        value = row.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue  # the function did not score this completion
        rewards[column] = _finite(value, f"{where}: {column!r}")
    advantage = row.get("advantage")
    return {
        "step": _step(row.get("step"), where),
        "prompt": _message_text(row.get("prompt"), f"{where}: 'prompt'"),
        "completion": _message_text(row.get("completion"), f"{where}: 'completion'"),
        "rewards": rewards,
        "reward": sum(rewards.values()),
        "advantage": 0.0 if advantage is None else _finite(advantage, f"{where}: 'advantage'"),
    }


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LogFileError(f"{where} must be a finite number")
    return float(value)


def _step(value: Any, where: str) -> int:
    try:
        return schema.integer(value, "step")
    except schema.SchemaError as exc:
        raise LogFileError(f"{where}: {exc}") from None


def _message_text(value: Any, where: str) -> str:
    """Text as is; chat messages (a conversational dataset) as one text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        turns = [(str(m.get("role") or ""), _content(m.get("content"), where)) for m in value]
        return render_chat_prompt(turns) if turns else ""
    raise LogFileError(f"{where} must be text or a list of chat messages")


def _content(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: keep the text ones
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    if content is None:
        return ""
    raise LogFileError(f"{where}: a message's content must be text")


# --- verl --------------------------------------------------------------------------


def _verl_rows(name: str, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    fallback_step = _file_step(Path(name))
    with path.open("rb") as stream:
        try:
            for lineno, line in iter_lines(stream, name):
                obj = load_object(line, name, lineno)
                yield (
                    f"{name} line {lineno}",
                    _verl_row(obj, f"{name} line {lineno}", fallback_step),
                )
        except DatasetFileError as exc:
            raise LogFileError(str(exc)) from None


def _file_step(path: Path) -> int | None:
    return int(path.stem) if path.stem.isdigit() else None


def _verl_row(obj: dict[str, Any], where: str, fallback_step: int | None) -> dict[str, Any]:
    for field in ("input", "output"):
        if not isinstance(obj.get(field), str):
            raise LogFileError(f"{where}: field {field!r} must be text")
    score = _finite(obj.get("score"), f"{where}: field 'score'")
    rewards = {"score": score}
    for key, value in obj.items():
        if key not in VERL_COLUMNS and isinstance(value, int | float) and key:
            if isinstance(value, float) and not math.isfinite(value):
                continue  # a detail verl could not compute; the score still counts
            rewards[key[:100]] = float(value)
    step = obj.get("step", fallback_step)
    if step is None:
        raise LogFileError(f"{where}: field 'step' is missing (and the file is not <step>.jsonl)")
    return {
        "step": _step(step, where),
        "prompt": obj["input"],
        "completion": obj["output"],
        "rewards": rewards,
        "reward": score,
        "reference": _reference(obj.get("gts"), where),
    }


def _reference(value: Any, where: str) -> str:
    if value is None:
        return ""
    text = text_value(value)
    if text is None:  # a structured ground truth: kept readable as JSON
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            raise LogFileError(f"{where}: field 'gts' cannot be read") from None
    return text


# --- groups ------------------------------------------------------------------------


def _grouped(
    rows: list[tuple[str, dict[str, Any]]], num_generations: int | None, *, advantages: bool
) -> Iterator[dict[str, Any]]:
    """Group and index for each row (per step, by prompt), each checked by the API's
    schema; with ``advantages``, GRPO's (score - group mean) / (group std + 1e-6)."""
    seen: dict[tuple[Any, str, int], list[dict[str, Any]]] = {}
    counts: dict[tuple[Any, str], int] = {}
    groups_in_step: dict[Any, int] = {}
    checked = []
    for where, row in rows:
        step, prompt = row["step"], row["prompt"]
        n = counts.get((step, prompt), 0)
        counts[(step, prompt)] = n + 1
        part = n // num_generations if num_generations else 0
        members = seen.get((step, prompt, part))
        if members is None:
            members = seen[(step, prompt, part)] = []
            row["group"] = groups_in_step.get(step, 0)
            groups_in_step[step] = row["group"] + 1
        else:
            row["group"] = members[0]["group"]
        row["index"] = len(members)
        members.append(row)
        checked.append((where, row))
    if advantages:
        for members in seen.values():
            _set_advantages(members)
    for where, row in checked:
        try:
            yield schema.sample(row, "sample")
        except schema.SchemaError as exc:
            raise LogFileError(f"{where}: {str(exc).removeprefix('sample.')}") from None


def _set_advantages(members: list[dict[str, Any]]) -> None:
    scores = [m["reward"] for m in members]
    mean = statistics.fmean(scores)
    std = statistics.stdev(scores) if len(scores) > 1 else 0.0
    for member in members:
        member["advantage"] = (member["reward"] - mean) / (std + 1e-6)
