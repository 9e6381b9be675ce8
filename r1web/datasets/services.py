"""Writes to datasets. A version is created whole or not at all.

Examples are written in batches, and an imported file is read twice, one row at a time:
a first pass checks every row and computes what the version will be (count, splits,
kind, content hash), and only then a second pass writes it in one transaction. So a bad
row leaves nothing written, and a million-row file never sits in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.db import transaction

from r1domain.code.rows import CODE_TASK
from r1domain.errors import R1WebError
from r1web.datasets.content import content_hash
from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.safe_text import db_json

BULK = 2000


class DatasetError(R1WebError):
    """Bad input for a dataset: the message is shown to the user as is."""


class ImportProgress(Protocol):
    """What an import job hears while ``dataset_import_file`` works (all optional)."""

    def checked(self, rows: int, fraction: float) -> None:
        """Rows checked so far and the share of the file read."""

    def checked_all(self, rows: int) -> None:
        """The file is good; writing starts. May raise ``DatasetError`` to stop."""

    def written(self, rows: int) -> None:
        """Rows written so far, inside the still-open transaction."""

    def finishing(self, version: DatasetVersion) -> None:
        """Inside the transaction, before it commits; may raise to roll it back."""


@dataclass
class _Summary:
    """What one pass over the records (as stored) says the version will be."""

    rows: int = 0
    splits: Counter = field(default_factory=Counter)
    completions: bool = False
    rejected: bool = False
    code: bool = False
    digest: str = ""

    def kind(self) -> str:
        if self.rejected:
            return Dataset.Kind.PREFERENCE
        if self.code:  # a code problem's reference solution is not an SFT target
            return Dataset.Kind.CODE
        if self.completions:
            return Dataset.Kind.SFT
        return Dataset.Kind.PROMPTS


def _summarize(records: Iterable[dict], *, max_rows: int | None = None) -> _Summary:
    summary = _Summary()

    def counted() -> Iterator[dict]:
        for record in records:
            summary.rows += 1
            if max_rows is not None and summary.rows > max_rows:
                raise DatasetError(
                    f"more than {max_rows:,} examples: the most one import may hold "
                    "(R1WEB_UPLOAD_MAX_ROWS); nothing was imported"
                )
            summary.splits[record["split"]] += 1
            summary.completions = summary.completions or bool(record.get("completion"))
            summary.rejected = summary.rejected or bool(record.get("rejected"))
            summary.code = summary.code or record.get("task") == CODE_TASK
            yield record

    summary.digest = content_hash(counted())
    return summary


@transaction.atomic
def dataset_version_create(
    *,
    name: str,
    records: list[dict],
    source: str,
    kind: str = Dataset.Kind.PROMPTS,
    produced_by=None,
    created_by=None,
    parent: DatasetVersion | None = None,
) -> DatasetVersion:
    """Freeze ``records`` as the next version of dataset ``name`` (created if new).

    Records are the plain dicts stage code uses (key, prompt, answer, completion, task,
    split, optional provenance). If the newest version already has exactly this
    content, it is returned instead of a duplicate.
    """
    if not records:
        raise DatasetError("a dataset version needs at least one example")
    # Hash what is stored (with the defaults _example fills in), so the version's hash
    # is the hash of its examples, and an export of it imports to the same hash.
    stored = [_with_defaults(record) for record in records]
    return _version_freeze(
        name=name, records=lambda: stored, summary=_summarize(stored), source=source,
        kind=kind, produced_by=produced_by, created_by=created_by, parent=parent,
    )


@transaction.atomic
def _version_freeze(
    *,
    name: str,
    records: Callable[[], Iterable[dict]],
    summary: _Summary,
    source: str,
    kind: str,
    produced_by=None,
    created_by=None,
    parent: DatasetVersion | None = None,
    progress: ImportProgress | None = None,
) -> DatasetVersion:
    """Write the version ``summary`` describes from a fresh pass over ``records()``."""
    dataset, _ = Dataset.objects.get_or_create(
        name=name, defaults={"kind": kind, "created_by": created_by}
    )
    # Lock the dataset row so two freezes cannot both take the same version number.
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    latest = dataset.latest_version()
    if latest is not None and latest.content_hash == summary.digest:
        version = latest
    else:
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=(latest.number + 1) if latest else 1,
            content_hash=summary.digest,
            num_examples=summary.rows,
            splits=dict(summary.splits),
            source=source[:500],
            produced_by=produced_by,
            parent=parent or latest,
            created_by=created_by,
        )
        written = _examples_write(version, records(), progress)
        if written != summary.rows:  # the file changed between the two passes
            raise DatasetError("the file changed while it was being imported; nothing was")
    if progress:
        progress.finishing(version)
    return version


def _examples_write(
    version: DatasetVersion, records: Iterable[dict], progress: ImportProgress | None
) -> int:
    # Batch by batch: bulk_create would first turn the whole iterable into a list.
    records = iter(records)
    position = 0
    while batch := list(islice(records, BULK)):
        Example.objects.bulk_create(
            [_example(version, position + offset, record) for offset, record in enumerate(batch)]
        )
        position += len(batch)
        if progress:
            progress.written(position)
    return position


def _with_defaults(record: dict) -> dict:
    # Examples made from model output (rejection sampling) may hold any bytes.
    record = db_json(record)
    return {**record, "split": record.get("split") or "train", "task": record.get("task") or "math"}


def _example(version: DatasetVersion, position: int, record: dict) -> Example:
    return Example(
        version=version,
        position=position,
        split=record.get("split") or "train",
        key=str(record.get("key") or position)[:200],
        prompt=record["prompt"],
        answer=str(record.get("answer") or ""),
        completion=str(record.get("completion") or ""),
        rejected=str(record.get("rejected") or ""),
        task=record.get("task") or "math",
        provenance=record.get("provenance") or {"key": record.get("key", "")},
    )


def dataset_import_file(
    *,
    path: str | Path,
    name: str,
    fmt: str = "auto",
    split: str = "train",
    created_by=None,
    file_name: str | None = None,
    max_rows: int | None = None,
    progress: ImportProgress | None = None,
) -> DatasetVersion:
    """Import a file (JSONL in GSM8K, prompt/answer, prompt/response, chat messages,
    preference (prompt/chosen/rejected) or export form; Parquet; a Hugging Face dataset
    directory) as a new version.

    The whole file is read and checked before anything is written, so a bad line
    leaves the database untouched; then it is read again and written in one
    transaction. Memory stays that of one batch whatever the file's size.
    ``file_name`` names the file in keys and messages where ``path`` is a stored upload;
    ``max_rows`` defaults to ``R1WEB_UPLOAD_MAX_ROWS``.
    """
    from r1domain.datafiles import DatasetFileError
    from r1web.datasets.files import iter_examples

    file_name = file_name or Path(path).name

    def records(on_progress=None) -> Iterator[dict]:
        rows = iter_examples(path, fmt=fmt, split=split, name=file_name, on_progress=on_progress)
        return (_with_defaults(record) for record in rows)

    limit = settings.R1WEB_UPLOAD_MAX_ROWS if max_rows is None else max_rows
    try:
        summary = _summarize(records(progress.checked if progress else None), max_rows=limit)
        if progress:
            progress.checked_all(summary.rows)
        return _version_freeze(
            name=name, records=records, summary=summary, source=f"import {file_name}",
            kind=summary.kind(), created_by=created_by, progress=progress,
        )
    except (DatasetFileError, OSError) as exc:
        raise DatasetError(str(exc)) from exc


def synthetic_dataset_ensure(*, name: str = "synthetic", seed: int = 0) -> DatasetVersion:
    """The demo's task set, generated from a seed (same seed, same version)."""
    from r1domain.demo import demo_examples

    train, test = demo_examples(seed)
    records = train + test
    return dataset_version_create(name=name, records=records, source=f"synthetic seed={seed}")


def non_reasoning_dataset_ensure(*, name: str = "demo-general", seed: int = 0) -> DatasetVersion:
    """The demo's non-reasoning SFT set (greetings, opposites, number words...), generated
    from a seed (same seed, same version)."""
    from r1domain.general import general_examples

    train, test = general_examples(seed)
    return dataset_version_create(
        name=name, records=train + test, source=f"synthetic general seed={seed}",
        kind=Dataset.Kind.SFT,
    )


def preference_dataset_ensure(*, name: str = "demo-preferences", seed: int = 0) -> DatasetVersion:
    """The demo's synthetic preference pairs (chosen: polite, right summary; rejected:
    wrong, missing or rude), generated from a seed (same seed, same version)."""
    from r1domain.preferences import synthetic_preferences

    return dataset_version_create(
        name=name, records=synthetic_preferences(seed=seed),
        source=f"synthetic preferences seed={seed}", kind=Dataset.Kind.PREFERENCE,
    )
