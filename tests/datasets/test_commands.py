from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.datasets.services import dataset_version_create

# shared/ lies beside the repository, on developer machines and in CI alike.
GSM8K_TRAIN = Path(__file__).resolve().parents[2].parent / "shared/data/gsm8k/train.jsonl"


@pytest.mark.django_db
def test_importing_gsm8k_train_gives_7473_examples():
    if not GSM8K_TRAIN.exists():
        pytest.skip(f"GSM8K is not at {GSM8K_TRAIN}; it is never copied into the repository")
    call_command(
        "import_dataset",
        str(GSM8K_TRAIN),
        "--name",
        "gsm8k",
        "--format",
        "gsm8k",
        "--split",
        "train",
    )
    version = DatasetVersion.objects.get(dataset__name="gsm8k")
    assert version.num_examples == 7473
    assert version.examples.count() == 7473
    assert version.splits == {"train": 7473}


GOOD = b'{"question": "How many?", "answer": "two\\n#### 2"}\n'


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        (b'{"question": "Broken", "answer": \n', "line 2: invalid JSON"),
        (b'{"question": "No answer field"}\n', "line 2: missing or empty field 'answer'"),
        (b'{"question": "caf\xe9", "answer": "#### 1"}\n', "line 2: invalid UTF-8"),
    ],
)
def test_a_bad_file_is_refused_with_its_line_number_and_nothing_imported(
    tmp_path, second_line, message
):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(GOOD + second_line + GOOD)
    with pytest.raises(CommandError, match=message):
        call_command("import_dataset", str(path), "--name", "bad", "--format", "gsm8k")
    assert not Dataset.objects.exists()
    assert not DatasetVersion.objects.exists()
    assert not Example.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_export_then_import_gives_the_same_content_hash(tmp_path, fmt):
    records = [
        {
            "key": f"k{i}",
            "split": "train" if i % 3 else "test",
            "prompt": f"p{i}",
            "answer": str(i),
            "completion": f"|special_token|think {i}|special_token|sum {i}",
            "provenance": {"sample_id": i},
        }
        for i in range(7)
    ]
    original = dataset_version_create(name="cold", records=records, source="test", kind="sft")
    out = tmp_path / f"cold.{fmt}"
    call_command("export_dataset", "cold", "--version", "1", "--format", fmt, "--out", str(out))
    call_command("import_dataset", str(out), "--name", "cold-copy", "--format", fmt)
    copy = DatasetVersion.objects.get(dataset__name="cold-copy")
    assert copy.content_hash == original.content_hash
    assert copy.splits == original.splits
    assert copy.examples.get(key="k3").provenance == {"sample_id": 3}


@pytest.mark.django_db
def test_export_of_an_unknown_dataset_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="no dataset version"):
        call_command("export_dataset", "nope", "--format", "jsonl", "--out", str(tmp_path / "x"))
