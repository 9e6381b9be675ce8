"""Writes to datasets. A version is created whole or not at all."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from django.db import transaction

from r1web.datasets.content import content_hash
from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.safe_text import db_json

BULK = 2000


class DatasetError(ValueError):
    """Bad input for a dataset: the message is shown to the user as is."""


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
    dataset, _ = Dataset.objects.get_or_create(name=name, defaults={"kind": kind, "created_by": created_by})
    # Lock the dataset row so two freezes cannot both take the same version number.
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    # Hash what is stored (with the defaults _example fills in), so the version's hash
    # is the hash of its examples, and an export of it imports to the same hash.
    records = [_with_defaults(record) for record in records]
    digest = content_hash(records)
    latest = dataset.latest_version()
    if latest is not None and latest.content_hash == digest:
        return latest
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=(latest.number + 1) if latest else 1,
        content_hash=digest,
        num_examples=len(records),
        splits=dict(Counter(r.get("split") or "train" for r in records)),
        source=source[:500],
        produced_by=produced_by,
        parent=parent or latest,
        created_by=created_by,
    )
    Example.objects.bulk_create(
        (_example(version, position, record) for position, record in enumerate(records)),
        batch_size=BULK,
    )
    return version


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
    *, path: str | Path, name: str, fmt: str = "auto", split: str = "train", created_by=None
) -> DatasetVersion:
    """Import a file (JSONL in GSM8K, prompt/answer, prompt/response, chat messages,
    preference (prompt/chosen/rejected) or export form; Parquet; a Hugging Face dataset
    directory) as a new version.

    The whole file is parsed and checked before anything is written, so a bad line
    leaves the database untouched.
    """
    from r1web.datasets.files import read_examples
    from workers.domain.datafiles import DatasetFileError

    try:
        records = read_examples(path, fmt=fmt, split=split)
    except (DatasetFileError, OSError) as exc:
        raise DatasetError(str(exc)) from exc
    return dataset_version_create(
        name=name, records=records, source=f"import {Path(path).name}", kind=_kind_of(records),
        created_by=created_by,
    )


def _kind_of(records: list[dict]) -> str:
    if any(r.get("rejected") for r in records):
        return Dataset.Kind.PREFERENCE
    if any(r.get("completion") for r in records):
        return Dataset.Kind.SFT
    return Dataset.Kind.PROMPTS


def synthetic_dataset_ensure(*, name: str = "synthetic", seed: int = 0) -> DatasetVersion:
    """The demo's task set, generated from a seed (same seed, same version)."""
    from workers.domain.demo import demo_examples

    train, test = demo_examples(seed)
    records = train + test
    return dataset_version_create(name=name, records=records, source=f"synthetic seed={seed}")


def non_reasoning_dataset_ensure(*, name: str = "demo-general", seed: int = 0) -> DatasetVersion:
    """The demo's non-reasoning SFT set (greetings, opposites, number words...), generated
    from a seed (same seed, same version)."""
    from workers.domain.general import general_examples

    train, test = general_examples(seed)
    return dataset_version_create(
        name=name, records=train + test, source=f"synthetic general seed={seed}",
        kind=Dataset.Kind.SFT,
    )


def preference_dataset_ensure(*, name: str = "demo-preferences", seed: int = 0) -> DatasetVersion:
    """The demo's synthetic preference pairs (chosen: polite, right summary; rejected:
    wrong, missing or rude), generated from a seed (same seed, same version)."""
    from workers.domain.preferences import synthetic_preferences

    return dataset_version_create(
        name=name, records=synthetic_preferences(seed=seed),
        source=f"synthetic preferences seed={seed}", kind=Dataset.Kind.PREFERENCE,
    )
