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

Files are streamed, never held whole: Parquet a slice of a record batch at a time, with
text columns kept dictionary-encoded until a slice is converted (a small file can repeat
one long completion a million times); verl a line at a time, read twice (the first pass
sums each group's scores for the advantages). What is kept across a file is one entry
per group, never a row. Plain Python and pyarrow: no Django.
"""

from __future__ import annotations

import hashlib
import json
import math
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
# The most text bytes one slice of a record batch turns into Python strings at once.
SLICE_BYTES = 32 * 2**20
# UTF-8 takes at most 4 bytes a character: past this a text is over the limit unread.
MAX_TEXT_BYTES = 4 * schema.MAX_TEXT

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
    # ASCII digits only: str.isdigit() also takes "²" and "٣", which int() refuses.
    digits = "".join(c for c in path.stem if "0" <= c <= "9")
    return (int(digits) if digits else -1, path.name)


def detect_format(files: list[LogFile]) -> str:
    return "trl" if all(name.endswith(".parquet") for name, _ in files) else "verl"


def count_rows(files: list[LogFile], fmt: str) -> int:
    """How many completions ``files`` hold (Parquet: from its footer; verl: its non-blank
    lines), without reading them as completions."""
    total = 0
    for name, path in files:
        total += _parquet(name, path).metadata.num_rows if fmt == "trl" else _lines(path)
    return total


def _lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for line in stream if line.strip())


def read_rollouts(
    files: list[LogFile], fmt: str = "auto", num_generations: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every completion of ``files`` as a dict ``schema.sample`` checked."""
    fmt = detect_format(files) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise LogFileError(f"unknown log format {fmt!r} (known: {', '.join(FORMATS)})")
    read = _trl_file if fmt == "trl" else _verl_file
    for name, path in files:
        count = 0
        for sample in read(name, path, num_generations):
            count += 1
            yield sample
        if not count:
            raise LogFileError(f"{name}: no completions")


# --- groups ------------------------------------------------------------------------


class _Groups:
    """Group and index of each row of one file, in the order read: per step, by prompt
    (a prompt is kept as a 16-byte digest, so a file of long prompts costs little)."""

    def __init__(self, num_generations: int | None) -> None:
        self.size = num_generations
        self.seen: dict[tuple[int, bytes], int] = {}  # rows so far of a (step, prompt)
        self.numbers: dict[tuple[int, bytes, int], int] = {}  # group of a (step, prompt, part)
        self.in_step: dict[int, int] = {}  # groups so far at a step

    def place(self, row: dict[str, Any]) -> tuple[int, int]:
        """Set the row's ``group`` and ``index``; returns its group's (step, group)."""
        step = row["step"]
        prompt = hashlib.blake2b(
            row["prompt"].encode("utf-8", "surrogatepass"), digest_size=16
        ).digest()
        n = self.seen.get((step, prompt), 0)
        self.seen[(step, prompt)] = n + 1
        part, index = divmod(n, self.size) if self.size else (0, n)
        group = self.numbers.get((step, prompt, part))
        if group is None:
            group = self.numbers[(step, prompt, part)] = self.in_step.get(step, 0)
            self.in_step[step] = group + 1
        row["group"], row["index"] = group, index
        return step, group


class _Scores:
    """Each group's count, mean and sum of squared deviations (Welford), for GRPO's
    advantage: (score - group mean) / (group std + 1e-6), the std of a sample."""

    def __init__(self) -> None:
        self.groups: dict[tuple[int, int], tuple[int, float, float]] = {}

    def add(self, group: tuple[int, int], score: float) -> None:
        n, mean, m2 = self.groups.get(group, (0, 0.0, 0.0))
        n += 1
        delta = score - mean
        mean += delta / n
        self.groups[group] = (n, mean, m2 + delta * (score - mean))

    def advantage(self, group: tuple[int, int], score: float) -> float:
        n, mean, m2 = self.groups[group]
        std = math.sqrt(m2 / (n - 1)) if n > 1 else 0.0
        return (score - mean) / (std + 1e-6)


def _checked(row: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        return schema.sample(row, "sample")
    except schema.SchemaError as exc:
        raise LogFileError(f"{where}: {str(exc).removeprefix('sample.')}") from None


def _number(value: Any, where: str) -> float:
    """A finite number within the API's bounds (a 400-digit integer is refused too)."""
    try:
        return schema.number(value, "")
    except schema.SchemaError as exc:
        raise LogFileError(f"{where} {str(exc).removeprefix(': ')}") from None


def _step(value: Any, where: str) -> int:
    try:
        return schema.integer(value, "step")
    except schema.SchemaError as exc:
        raise LogFileError(f"{where}: {exc}") from None


# --- TRL ---------------------------------------------------------------------------


def _trl_file(name: str, path: Path, num_generations: int | None) -> Iterator[dict[str, Any]]:
    groups = _Groups(num_generations)
    for where, row in _trl_rows(name, path):
        groups.place(row)
        yield _checked(row, where)


def _arrow_errors() -> tuple[type[Exception], ...]:
    import pyarrow as pa

    return (pa.ArrowException, OSError, ValueError, TypeError, ArithmeticError)


def _parquet(name: str, path: Path, text_columns: list[str] | None = None):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path, read_dictionary=text_columns)
    except _arrow_errors() as exc:
        raise LogFileError(f"{name}: not a readable Parquet file ({exc})") from None


def _trl_rows(name: str, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow as pa

    arrow_schema = _parquet(name, path).schema_arrow
    missing = sorted({"step", "prompt", "completion"} - set(arrow_schema.names))
    if missing:
        raise LogFileError(f"{name}: not a TRL completions file (no column {missing[0]!r})")
    reward_columns = [
        f.name
        for f in arrow_schema
        if f.name not in TRL_COLUMNS
        and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))
    ]
    # Text stays dictionary-encoded (as written) until a slice of it is converted.
    text = [f.name for f in arrow_schema if pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)]
    columns = sorted({"step", "prompt", "completion", "advantage", *reward_columns}
                     & set(arrow_schema.names))
    number = 0  # rows read before the current slice
    try:
        batches = _parquet(name, path, text).iter_batches(
            batch_size=ARROW_BATCH_ROWS, columns=columns
        )
        for batch in batches:
            for piece in _slices(batch, name, number):
                for row in piece.to_pylist():
                    number += 1
                    where = f"{name} row {number}"
                    yield where, _trl_row(row, reward_columns, where)
    except LogFileError:
        raise
    except _arrow_errors() as exc:
        raise LogFileError(
            f"{name} row {number + 1}: a value that cannot be read ({exc})"
        ) from None


def _slices(batch, name: str, first: int) -> Iterator[Any]:
    """``batch`` in consecutive slices of at most ``SLICE_BYTES`` of text each (a row
    alone may pass it); a text past ``MAX_TEXT_BYTES`` is refused before conversion."""
    import pyarrow.compute as pc

    sizes = None
    for column in batch.columns:
        lengths = _text_bytes(column)
        if lengths is None:
            continue
        longest = pc.max(lengths).as_py() or 0
        if longest > MAX_TEXT_BYTES:
            row = first + 1 + pc.index(lengths, longest).as_py()
            raise LogFileError(
                f"{name} row {row}: a text longer than {schema.MAX_TEXT} characters"
            )
        sizes = lengths if sizes is None else pc.add(sizes, lengths)
    if sizes is None:
        yield batch
        return
    start = total = 0
    for i, size in enumerate(sizes.to_pylist()):
        if total and total + size > SLICE_BYTES:
            yield batch.slice(start, i - start)
            start, total = i, 0
        total += size
    yield batch.slice(start)


def _text_bytes(column):
    """Each row's text bytes in a string column (0 where null), or None for others."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        lengths = pc.binary_length(column.dictionary).take(column.indices)
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        lengths = pc.binary_length(column)
    else:
        return None
    return pc.fill_null(lengths.cast(pa.int64()), 0)


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
        "advantage": 0.0 if advantage is None else _finite(advantage, f"{where}: 'advantage'"),
    }


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LogFileError(f"{where} must be a finite number")
    return _number(value, where)


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


def _verl_file(name: str, path: Path, num_generations: int | None) -> Iterator[dict[str, Any]]:
    groups, scores = _Groups(num_generations), _Scores()
    for _, row in _verl_rows(name, path):
        scores.add(groups.place(row), row["reward"])
    groups = _Groups(num_generations)  # the same groups again, as the rows come back
    for where, row in _verl_rows(name, path):
        row["advantage"] = scores.advantage(groups.place(row), row["reward"])
        yield _checked(row, where)


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
    # ASCII digits only: "².jsonl" is no step (int() would refuse it).
    stem = path.stem
    return int(stem) if stem.isascii() and stem.isdigit() else None


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
            where_value = f"{where}: field {key[:60]!r}"
            rewards[key[:100]] = float(value) if isinstance(value, bool) else _number(
                value, where_value
            )
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
