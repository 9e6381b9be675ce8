"""Dataset files in and out: JSONL, GSM8K JSONL, Parquet and Hugging Face ``save_to_disk``.

Pure functions over the plain example dicts (no database). What is exported is exactly
what the content hash covers (split, task, prompt, answer, completion, and a preference
pair's rejected response) plus the key and the provenance, in position order, so
importing an exported file gives the same hash. A file whose first row has ``chosen`` is
a preference file (``prompt``, ``chosen``, ``rejected`` on every row). Reading is
all-or-nothing: a bad row raises ``DatasetFileError`` naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workers.domain.datafiles import DatasetFileError, decode_line, load_object, parse_line
from workers.domain.preferences import is_preference_row, preference_from_row

FORMATS = ("jsonl", "gsm8k", "parquet", "hf")
COLUMNS = ("key", "split", "task", "prompt", "answer", "completion", "provenance")
REJECTED = "rejected"  # exported only by versions that hold preference pairs


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "hf"
    return "parquet" if path.suffix == ".parquet" else "jsonl"


def read_examples(path: str | Path, *, fmt: str = "auto", split: str = "train") -> list[dict]:
    """Every example of a file, checked before anything is returned.

    ``split`` is used for rows that name none (GSM8K's files are one split each).
    """
    path = Path(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise DatasetFileError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt in ("jsonl", "gsm8k"):
        records = _read_jsonl(path.read_bytes(), path.name)
    elif fmt == "parquet":
        records = _read_rows(_parquet_rows(path), path.name)
    else:
        records = _read_rows(_hf_rows(path), path.name)
    if not records:
        raise DatasetFileError(f"{path.name}: no examples")
    for record in records:
        record["split"] = record.get("split") or split
    return records


def _read_jsonl(data: bytes, name: str) -> list[dict]:
    records = []
    preferences = None  # decided by the first object: a file is one kind throughout
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        text = decode_line(raw, name, lineno).strip()
        if not text:
            continue
        row = load_object(text, name, lineno)
        if preferences is None:
            preferences = is_preference_row(row)
        where, key = f"{name} line {lineno}", f"{name}:{lineno}"
        if preferences:
            records.append(_preference_row(row, where, key, {"file": name, "line": lineno}))
        elif _is_exported(row):
            records.append(_exported_row(row, where, key))
        else:  # GSM8K, prompt/answer, prompt/response or chat lines: the shared parser
            records.append(_from_parse_line(text, name, lineno))
    return records


def _preference_row(row: dict[str, Any], where: str, key: str, provenance: dict) -> dict:
    record = preference_from_row(row, where, key)
    record["provenance"] = _provenance(row.get("provenance")) or provenance
    return record


def _provenance(value: Any) -> dict:
    # Parquet and HF exports store it as a JSON string; JSONL as an object.
    if isinstance(value, str):
        return json.loads(value) if value else {}
    return value or {}


def _is_exported(row: dict) -> bool:
    return "question" not in row and ("completion" in row or "provenance" in row)


def _from_parse_line(text: str, name: str, lineno: int) -> dict:
    example = parse_line(text, name, lineno)
    example["provenance"] = {"file": name, "line": lineno}
    return example


def _exported_row(row: dict[str, Any], where: str, default_key: str) -> dict:
    """A row in our own export shape; kept byte for byte (no stripping)."""
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DatasetFileError(f"{where}: missing or empty field 'prompt'")
    for field in ("answer", "completion", "task", "split", "key"):
        if row.get(field) is not None and not isinstance(row[field], (str, int, float)):
            raise DatasetFileError(f"{where}: field {field!r} must be text")
    if not str(row.get("answer") or "").strip() and not str(row.get("completion") or "").strip():
        raise DatasetFileError(f"{where}: needs an 'answer' or a 'completion'")
    record = {
        "key": str(row.get("key") or default_key),
        "split": str(row.get("split") or ""),
        "task": str(row.get("task") or "math"),
        "prompt": prompt,
        "answer": str(row.get("answer") or ""),
        "completion": str(row.get("completion") or ""),
        "provenance": _provenance(row.get("provenance")),
    }
    if row.get(REJECTED):  # an exported preference pair
        if not isinstance(row[REJECTED], str):
            raise DatasetFileError(f"{where}: field {REJECTED!r} must be text")
        record[REJECTED] = row[REJECTED]
    return record


def _read_rows(rows: list[dict], name: str) -> list[dict]:
    records = []
    preferences = bool(rows) and is_preference_row(rows[0])
    for number, row in enumerate(rows, start=1):
        where, key = f"{name} row {number}", f"{name}:{number}"
        if preferences:
            records.append(_preference_row(row, where, key, {"file": name, "row": number}))
        elif not _is_exported(row):
            records.append(_from_parse_line(json.dumps(row), name, number))
        else:
            records.append(_exported_row(row, where, key))
    return records


def _parquet_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DatasetFileError(f"{path.name}: not a readable Parquet file ({exc})") from None


def _hf_rows(path: Path) -> list[dict]:
    from r1web.datasets.hf_disk import HFDiskError, read_rows

    try:
        return read_rows(path)
    except HFDiskError as exc:
        raise DatasetFileError(f"{path.name}: not a Hugging Face dataset directory ({exc})") from None


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


def write_examples(records: list[dict], path: str | Path, *, fmt: str) -> Path:
    """Write records (in order) to ``path``: a file, or a directory for ``hf``."""
    path = Path(path)
    rows = _export_rows(records)
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as out:
            for row in rows:
                row["provenance"] = json.loads(row["provenance"])
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    elif fmt == "hf":
        from r1web.datasets.hf_disk import write_rows

        write_rows(rows, path)
    else:
        raise DatasetFileError(f"cannot export to {fmt!r} (choose jsonl, parquet or hf)")
    return path
