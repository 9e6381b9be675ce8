"""Preference pairs as datasets: import, refusal of a bad file, export round trip and the
demo's synthetic set."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.datasets.services import (
    DatasetError,
    dataset_import_file,
    preference_dataset_ensure,
)

pytestmark = pytest.mark.django_db

PAIRS = [
    {"prompt": "Find the largest of 3 1 4", "chosen": "|special_token|4 wins|special_token|4",
     "rejected": "|special_token|ask someone else|special_token|", "split": "train"},
    {"prompt": "Find the smallest of 3 1 4", "chosen": "|special_token|1 wins|special_token|1",
     "rejected": "|special_token|stupid question|special_token|1", "split": "test"},
]


def _write(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_a_preference_file_imports_as_a_preference_dataset(tmp_path):
    version = dataset_import_file(path=_write(tmp_path / "prefs.jsonl", PAIRS), name="prefs")
    assert version.dataset.kind == Dataset.Kind.PREFERENCE
    assert version.splits == {"train": 1, "test": 1}
    example = version.examples.get(split="test")
    assert example.completion == PAIRS[1]["chosen"]
    assert example.rejected == PAIRS[1]["rejected"]


def test_a_preference_file_without_rejected_is_refused_and_nothing_written(tmp_path):
    rows = [PAIRS[0], {"prompt": "p", "chosen": "c"}]
    with pytest.raises(DatasetError, match="line 2: missing or empty field 'rejected'"):
        dataset_import_file(path=_write(tmp_path / "bad.jsonl", rows), name="bad")
    assert not Dataset.objects.exists()
    assert not DatasetVersion.objects.exists()
    assert not Example.objects.exists()


def test_the_import_command_names_the_bad_line_too(tmp_path):
    path = _write(tmp_path / "bad.jsonl", [PAIRS[0], PAIRS[1], {"prompt": "p", "chosen": "c"}])
    with pytest.raises(CommandError, match="line 3: missing or empty field 'rejected'"):
        call_command("import_dataset", path, "--name", "bad")
    assert not Example.objects.exists()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_an_exported_preference_version_imports_back_with_the_same_hash(tmp_path, fmt):
    original = dataset_import_file(path=_write(tmp_path / "prefs.jsonl", PAIRS), name="prefs")
    out = tmp_path / f"prefs.{fmt}"
    call_command("export_dataset", "prefs", "--format", fmt, "--out", str(out))
    call_command("import_dataset", str(out), "--name", "prefs-copy", "--format", fmt)
    copy = DatasetVersion.objects.get(dataset__name="prefs-copy")
    assert copy.content_hash == original.content_hash
    assert copy.dataset.kind == Dataset.Kind.PREFERENCE
    assert copy.examples.get(split="test").rejected == PAIRS[1]["rejected"]


def test_the_rejected_response_is_part_of_the_content_hash(tmp_path):
    first = dataset_import_file(path=_write(tmp_path / "a.jsonl", PAIRS), name="a")
    changed = [PAIRS[0], {**PAIRS[1], "rejected": "|special_token|no|special_token|"}]
    second = dataset_import_file(path=_write(tmp_path / "b.jsonl", changed), name="b")
    assert first.content_hash != second.content_hash


def test_the_demo_preference_set_is_made_once_per_seed():
    version = preference_dataset_ensure()
    assert version.dataset.name == "demo-preferences"
    assert version.dataset.kind == Dataset.Kind.PREFERENCE
    assert set(version.splits) == {"train", "test"}
    assert not version.examples.filter(rejected="").exists()
    assert preference_dataset_ensure() == version
