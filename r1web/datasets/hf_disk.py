"""Hugging Face ``save_to_disk`` folders, read and written with pyarrow alone.

The web process imports and exports datasets, and must not load the ``datasets``
library (it drags in torch-sized imports). A ``Dataset.save_to_disk`` folder is Arrow
IPC stream files named in ``state.json`` plus a ``dataset_info.json`` of features; a
``DatasetDict`` is a ``dataset_dict.json`` listing split sub-folders. A test checks
both directions against the real ``datasets`` library.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from r1domain.errors import R1WebError

DATA_FILE = "data-00000-of-00001.arrow"
_DTYPES = {pa.string(): "string", pa.large_string(): "large_string", pa.int64(): "int64",
           pa.int32(): "int32", pa.float64(): "float64", pa.bool_(): "bool"}


class HFDiskError(R1WebError):
    """Not a readable ``save_to_disk`` folder; the message says why."""


def read_rows(path: Path) -> list[dict]:
    """Every row; a DatasetDict's rows carry their ``split``."""
    return list(iter_rows(path))


def iter_rows(path: Path) -> Iterator[dict]:
    """``read_rows`` one record batch at a time, so a large folder is never whole in memory."""
    splits_file = path / "dataset_dict.json"
    if splits_file.is_file():
        splits = _json(splits_file).get("splits")
        for split in splits if isinstance(splits, list) else []:
            if not isinstance(split, str) or not _is_plain_name(split):
                raise HFDiskError(f"{path.name}: dataset_dict.json names a bad split {split!r}")
            for row in _iter_one(path / split):
                yield {"split": split, **row}
    else:
        yield from _iter_one(path)


def _is_plain_name(name: str) -> bool:
    # A name inside the folder: never a path that climbs out of it.
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def _iter_one(path: Path) -> Iterator[dict]:
    state = _json(path / "state.json")
    entries = state.get("_data_files")
    entries = entries if isinstance(entries, list) else []
    files = [entry.get("filename", "") for entry in entries if isinstance(entry, dict)]
    if not files or not all(isinstance(name, str) and _is_plain_name(name) for name in files):
        raise HFDiskError(f"{path.name}: state.json names no data files")
    for name in files:
        yield from _iter_arrow(path / name)


def _iter_arrow(path: Path) -> Iterator[dict]:
    try:
        with pa.memory_map(str(path)) as source:
            for batch in pa.ipc.open_stream(source):
                yield from batch.to_pylist()
    except (OSError, pa.ArrowInvalid) as exc:
        raise HFDiskError(f"{path.name}: not an Arrow stream ({exc})") from None


def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HFDiskError(f"{path.parent.name}: no readable {path.name} ({exc})") from None
    if not isinstance(value, dict):
        raise HFDiskError(f"{path.parent.name}: {path.name} is not a JSON object")
    return value


def write_rows(rows: list[dict], path: Path, on_progress=None, batch_rows: int = 10_000) -> Path:
    """One split, as ``Dataset.from_list(rows).save_to_disk(path)`` would write it.
    ``on_progress(rows written, rows)`` hears after each batch."""
    table = pa.Table.from_pylist(rows[:batch_rows])
    path.mkdir(parents=True, exist_ok=True)
    with (pa.OSFile(str(path / DATA_FILE), "wb") as sink,
          pa.ipc.new_stream(sink, table.schema) as writer):
        writer.write_table(table)
        for start in range(batch_rows, len(rows), batch_rows):
            if on_progress:
                on_progress(start, len(rows))
            batch = rows[start : start + batch_rows]
            writer.write_table(pa.Table.from_pylist(batch, schema=table.schema))
    features = {field.name: {"dtype": _DTYPES.get(field.type, "string"), "_type": "Value"}
                for field in table.schema}
    info = {"citation": "", "description": "", "features": features, "homepage": "",
            "license": ""}
    (path / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    digest = hashlib.sha256((path / DATA_FILE).read_bytes()).hexdigest()[:16]
    state = {"_data_files": [{"filename": DATA_FILE}], "_fingerprint": digest,
             "_format_columns": None, "_format_kwargs": {}, "_format_type": None,
             "_output_all_columns": False, "_split": None}
    (path / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True),
                                     encoding="utf-8")
    return path
