"""Dataset files in and out: JSONL, GSM8K JSONL, Parquet and Hugging Face ``save_to_disk``.

Pure functions over the plain example dicts (no database). What is exported is exactly
what the content hash covers (split, task, prompt, answer, completion, and a preference
pair's rejected response) plus the key and the provenance, in position order, so
importing an exported file gives the same hash. A file whose first row has ``chosen`` is
a preference file (``prompt``, ``chosen``, ``rejected`` on every row); one whose first row
is a programming problem with tests (``r1domain.code.rows``) a code file. A bad row raises
``DatasetFileError`` naming it. A JSONL file may be gzipped (``.jsonl.gz``).

Reading streams: ``iter_examples`` yields one example at a time (JSONL line by line,
Parquet and Arrow by record batches), so a caller that checks a whole file before
writing anything (all-or-nothing) holds one row, not the file, in memory.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from r1domain.code.rows import CODE_TASK, check_stored_tests, code_from_row, is_code_row
from r1domain.datafiles import (
    DatasetFileError,
    example_from_object,
    iter_lines,
    load_object,
    optional_text,
    text_value,
)
from r1domain.preferences import is_preference_row, preference_from_row

FORMATS = ("jsonl", "gsm8k", "parquet", "hf")
COLUMNS = ("key", "split", "task", "prompt", "answer", "completion", "provenance")
REJECTED = "rejected"  # exported only by versions that hold preference pairs
# The lengths of the Example columns these fields are stored in: a longer value is
# refused here, with its row named, rather than by the database in the middle of a write.
MAX_LENGTHS = {"split": 20, "task": 50}
ARROW_BATCH_ROWS = 2048
PROGRESS_EVERY = 1000  # rows between two progress reports

Progress = Callable[[int, float], None]  # rows read so far, and the share of the file


def detect_format(path: Path, name: str | None = None) -> str:
    """``name`` is the file's own name where ``path`` is where it is stored (an upload)."""
    if path.is_dir():
        return "hf"
    return "parquet" if Path(name or path.name).suffix == ".parquet" else "jsonl"


def read_examples(path: str | Path, *, fmt: str = "auto", split: str = "train") -> list[dict]:
    """Every example of a file, checked before anything is returned.

    ``split`` is used for rows that name none (GSM8K's files are one split each).
    """
    return list(iter_examples(path, fmt=fmt, split=split))


def iter_examples(
    path: str | Path,
    *,
    fmt: str = "auto",
    split: str = "train",
    name: str | None = None,
    on_progress: Progress | None = None,
) -> Iterator[dict]:
    """The examples of a file one at a time; raises ``DatasetFileError`` at the first bad
    row, or at the end if there was none.

    ``name`` is the file name that keys, provenance and messages use (default: the
    path's); ``on_progress`` hears now and then how much of the file has been read.
    """
    path = Path(path)
    name = name or path.name
    fmt = detect_format(path, name) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise DatasetFileError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt in ("jsonl", "gsm8k"):
        records = _jsonl_records(path, name, on_progress)
    elif fmt == "parquet":
        records = _row_records(_parquet_rows(path, name, on_progress), name)
    else:
        records = _row_records(_hf_rows(path, name), name)
    count = 0
    for count, record in enumerate(records, start=1):
        record["split"] = record.get("split") or split
        yield record
    if not count:
        raise DatasetFileError(f"{name}: no examples")


def _shape(row: dict[str, Any]) -> str:
    if is_preference_row(row):
        return "preference"
    return "code" if is_code_row(row) else "plain"


def _jsonl_records(path: Path, name: str, on_progress: Progress | None) -> Iterator[dict]:
    size = max(path.stat().st_size, 1)
    shape = None  # decided by the first object: a file is one kind throughout
    with _open(path, name) as stream:
        for count, (lineno, text) in enumerate(iter_lines(stream, name), start=1):
            row = load_object(text, name, lineno)
            shape = shape or _shape(row)
            yield _record(row, shape, name, "line", lineno)
            if on_progress and count % PROGRESS_EVERY == 0:
                on_progress(count, min(1.0, _position(stream) / size))


def _open(path: Path, name: str) -> BinaryIO:
    return gzip.open(path, "rb") if name.endswith(".gz") else path.open("rb")  # type: ignore[return-value]


def _position(stream: Any) -> int:
    # A gzipped file's own position, not the uncompressed one its reader reports.
    raw = getattr(stream, "fileobj", None)
    return raw.tell() if raw is not None else stream.tell()


def _row_records(rows: Iterable[dict], name: str) -> Iterator[dict]:
    shape = None
    for number, row in enumerate(rows, start=1):
        shape = shape or _shape(row)
        yield _record(_plain_row(row), shape, name, "row", number)


def _record(row: dict[str, Any], shape: str, name: str, unit: str, number: int) -> dict:
    where, key = f"{name} {unit} {number}", f"{name}:{number}"
    if shape == "preference":
        record = preference_from_row(row, where, key)
        record["provenance"] = _provenance(row, where) or {"file": name, unit: number}
    elif shape == "code":
        record = code_from_row(row, where, key)
        record["provenance"] = {"file": name, unit: number}
    elif _is_exported(row):
        record = _exported_row(row, where, key)
        if record["task"] == CODE_TASK:  # an exported code problem: its tests must hold
            check_stored_tests(record["answer"], where)
    else:  # GSM8K, prompt/answer, prompt/response or chat rows: the shared parser
        record = example_from_object(row, name, number)
        record["provenance"] = {"file": name, unit: number}
    _check_lengths(record, where)
    return record


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    # A Parquet "binary" column often holds text; any other odd value (a list, a struct,
    # a timestamp) is left for the field checks to refuse where a text is needed.
    return {
        column: _utf8_or_bytes(value) if isinstance(value, bytes) else value
        for column, value in row.items()
    }


def _utf8_or_bytes(value: bytes) -> str | bytes:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _check_lengths(record: dict, where: str) -> None:
    for field, limit in MAX_LENGTHS.items():
        if len(str(record.get(field) or "")) > limit:
            raise DatasetFileError(f"{where}: field {field!r} is longer than {limit} characters")


def _provenance(row: dict[str, Any], where: str) -> dict:
    # Parquet and HF exports store it as a JSON string; JSONL as an object.
    value = row.get("provenance")
    if isinstance(value, str):
        try:
            value = load_object(value, where, 0) if value.strip() else {}
        except DatasetFileError:
            raise DatasetFileError(f"{where}: field 'provenance' is not a JSON object") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DatasetFileError(f"{where}: field 'provenance' must be an object")
    try:  # stored as JSON: a struct holding bytes or NaN could not be
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise DatasetFileError(f"{where}: field 'provenance' holds values JSON cannot") from None
    return value


def _is_exported(row: dict) -> bool:
    return "question" not in row and ("completion" in row or "provenance" in row)


def _exported_row(row: dict[str, Any], where: str, default_key: str) -> dict:
    """A row in our own export shape; kept byte for byte (no stripping)."""
    prompt = row.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise DatasetFileError(f"{where}: field 'prompt' must be text")
    if not prompt or not prompt.strip():
        raise DatasetFileError(f"{where}: missing or empty field 'prompt'")
    texts = {field: _text(row, field, where) for field in ("answer", "completion", "key")}
    if not texts["answer"].strip() and not texts["completion"].strip():
        raise DatasetFileError(f"{where}: needs an 'answer' or a 'completion'")
    record = {
        **texts,
        "key": texts["key"] or default_key,
        "split": optional_text(row, "split", "", where),
        "task": optional_text(row, "task", "math", where),
        "prompt": prompt,
        "provenance": _provenance(row, where),
    }
    if row.get(REJECTED):  # an exported preference pair
        if not isinstance(row[REJECTED], str):
            raise DatasetFileError(f"{where}: field {REJECTED!r} must be text")
        record[REJECTED] = row[REJECTED]
    return record


def _text(row: dict[str, Any], field: str, where: str) -> str:
    value = row.get(field)
    if value is None or value == "":
        return ""
    text = text_value(value)
    if text is None:
        raise DatasetFileError(f"{where}: field {field!r} must be text")
    return text


def _parquet_rows(path: Path, name: str, on_progress: Progress | None) -> Iterator[dict]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        total = max(parquet.metadata.num_rows, 1)
    except arrow_errors() as exc:
        raise DatasetFileError(f"{name}: not a readable Parquet file ({exc})") from None
    done = 0
    for rows in _arrow_batches(parquet.iter_batches(batch_size=ARROW_BATCH_ROWS), name):
        yield from rows
        done += len(rows)
        if on_progress:
            on_progress(done, done / total)


def arrow_errors() -> tuple[type[Exception], ...]:
    import pyarrow as pa

    # pyarrow's own, the file system's, and Python's when a value will not convert (a
    # timestamp past the year 9999 raises OverflowError).
    return (pa.ArrowException, OSError, ValueError, TypeError, ArithmeticError)


def _arrow_batches(batches: Iterator, name: str) -> Iterator[list[dict]]:
    """Each record batch as row dicts; a batch that cannot be read, or a value that
    cannot become a Python value, raises ``DatasetFileError``."""
    first = 1
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except arrow_errors() as exc:
            raise DatasetFileError(f"{name}: not a readable Parquet file ({exc})") from None
        try:
            rows = batch.to_pylist()
        except arrow_errors() as exc:
            last = first + batch.num_rows - 1
            raise DatasetFileError(
                f"{name} rows {first}-{last}: a value that cannot be read ({exc})"
            ) from None
        first += len(rows)
        yield rows


def _hf_rows(path: Path, name: str) -> Iterator[dict]:
    from r1web.datasets.hf_disk import HFDiskError, iter_rows

    try:
        yield from iter_rows(path)
    except HFDiskError as exc:
        raise DatasetFileError(f"{name}: not a Hugging Face dataset directory ({exc})") from None


def _export_rows(records: list[dict]) -> list[dict]:
    columns = list(COLUMNS[:-1])
    # Parquet and HF need one schema for every row, so the column is all or nothing.
    if any(record.get(REJECTED) for record in records):
        columns.append(REJECTED)
    rows = []
    for record in records:
        row = {column: str(record.get(column) or "") for column in columns}
        row["provenance"] = json.dumps(record.get("provenance") or {}, sort_keys=True)
        rows.append(row)
    return rows


WriteProgress = Callable[[int, int], None]  # rows written so far, of all rows
EXPORT_BATCH_ROWS = 10_000


def write_examples(
    records: list[dict], path: str | Path, *, fmt: str, on_progress: WriteProgress | None = None
) -> Path:
    """Write records (in order) to ``path``: a file, or a directory for ``hf``.
    ``on_progress`` hears every few thousand rows how many are written."""
    path = Path(path)
    rows = _export_rows(records)
    report = on_progress or (lambda done, total: None)
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as out:
            for done, row in enumerate(rows, 1):
                row["provenance"] = json.loads(row["provenance"])
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                if done % PROGRESS_EVERY == 0:
                    report(done, len(rows))
    elif fmt == "parquet":
        _write_parquet(rows, path, report)
    elif fmt == "hf":
        from r1web.datasets.hf_disk import write_rows

        write_rows(rows, path, on_progress=report)
    else:
        raise DatasetFileError(f"cannot export to {fmt!r} (choose jsonl, parquet or hf)")
    report(len(rows), len(rows))
    return path


def _write_parquet(rows: list[dict], path: Path, report: WriteProgress) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = pa.Table.from_pylist(rows[:EXPORT_BATCH_ROWS])
    with pq.ParquetWriter(path, first.schema) as writer:
        writer.write_table(first)
        for start in range(EXPORT_BATCH_ROWS, len(rows), EXPORT_BATCH_ROWS):
            report(start, len(rows))
            batch = rows[start : start + EXPORT_BATCH_ROWS]
            writer.write_table(pa.Table.from_pylist(batch, schema=first.schema))
