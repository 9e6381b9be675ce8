"""Parquet columns of unusual types (issue 7): each gives a clear error naming its row
or a correct import, never a 500 and never a partial write."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from r1web.datasets.models import Dataset, Example
from r1web.datasets.services import DatasetError, dataset_import_file

CHAT = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def table(**columns: tuple[list, pa.DataType]) -> pa.Table:
    return pa.table({name: pa.array(values, type=kind)
                     for name, (values, kind) in columns.items()})


def text(*values) -> tuple[list, pa.DataType]:
    return list(values), pa.string()


IMPORTED = [
    ("binary text", table(prompt=(["héllo".encode()], pa.binary()), answer=text("1")),
     {"prompt": "héllo"}),
    ("int answers", table(prompt=text("p"), answer=([42], pa.int64())), {"answer": "42"}),
    ("decimal answers", table(prompt=text("p"), answer=([Decimal("3.50")], pa.decimal128(5, 2))),
     {"answer": "3.50"}),
    ("large strings", table(prompt=(["p"], pa.large_string()), answer=text("1")),
     {"prompt": "p"}),
    ("dictionary strings",
     pa.table({"prompt": pa.array(["p"]).dictionary_encode(), "answer": pa.array(["1"])}),
     {"prompt": "p"}),
    ("chat as list of structs",
     table(messages=([[{"role": "user", "content": "hi"},
                       {"role": "assistant", "content": "hello"}]], CHAT)),
     {"prompt": "hi", "completion": "hello", "task": "general"}),
    ("unused odd columns",
     table(prompt=text("p"), answer=text("1"), seen=([datetime.datetime(2024, 1, 1)],
                                                      pa.timestamp("us")),
           blob=([b"\xff\xfe"], pa.binary()), tags=([[["a"]]], pa.list_(pa.list_(pa.string()))),
           nothing=([None], pa.null())),
     {"prompt": "p", "answer": "1"}),
    ("provenance as a struct",
     table(prompt=text("p"), completion=text("c"),
           provenance=([{"sample": 7}], pa.struct([("sample", pa.int64())]))),
     {"provenance": {"sample": 7}}),
]

REFUSED = [
    ("nested list prompt", table(prompt=([[["a"]]], pa.list_(pa.list_(pa.string()))),
                                 answer=text("1")), "field 'prompt' must be text, not a list"),
    ("struct prompt", table(prompt=([{"a": "b"}], pa.struct([("a", pa.string())])),
                            answer=text("1")), "field 'prompt' must be text, not an object"),
    ("binary that is not text", table(prompt=([b"\xff\xfe"], pa.binary()), answer=text("1")),
     "field 'prompt' must be text, not binary data"),
    ("null prompt", table(prompt=([None], pa.string()), answer=text("1")),
     "missing or empty field 'prompt'"),
    ("timestamp answer", table(prompt=text("p"), answer=([datetime.datetime(2024, 1, 1)],
                                                         pa.timestamp("us"))),
     "field 'answer' must be text, not datetime"),
    ("NaN answer", table(prompt=text("p"), answer=([float("nan")], pa.float64())),
     "field 'answer' must be text, not a non-finite number"),
    ("list task", table(prompt=text("p"), answer=text("1"), task=([["a"]], pa.list_(pa.string()))),
     "field 'task' must be text, not a list"),
    ("struct messages", table(messages=([{"role": "user"}], pa.struct([("role", pa.string())]))),
     "'messages' must be a non-empty list"),
    ("binary in a provenance struct",
     table(prompt=text("p"), completion=text("c"),
           provenance=([{"raw": b"\xff"}], pa.struct([("raw", pa.binary())]))),
     "field 'provenance' holds values JSON cannot"),
    ("list answer in an export", table(prompt=text("p"), completion=text("c"),
                                       answer=([["1"]], pa.list_(pa.string()))),
     "field 'answer' must be text"),
    ("int chosen in a preference pair",
     table(prompt=text("p"), chosen=([1], pa.int64()), rejected=text("r")),
     "missing or empty field 'chosen'"),
    ("timestamp past the year 9999",
     table(prompt=text("p"), answer=text("1"), seen=([2**62], pa.timestamp("us"))),
     "odd.parquet rows 1-1: a value that cannot be read"),
    ("no rows", table(prompt=([], pa.string()), answer=([], pa.string())), "no examples"),
]


def write(tmp_path, data: pa.Table):
    path = tmp_path / "odd.parquet"
    pq.write_table(data, path)
    return path


@pytest.mark.parametrize("label, data, expected", IMPORTED, ids=[c[0] for c in IMPORTED])
def test_an_unusual_column_that_holds_usable_values_imports_correctly(
    db, tmp_path, label, data, expected
):
    version = dataset_import_file(path=write(tmp_path, data), name="odd")
    example = version.examples.get()
    for field, value in expected.items():
        assert getattr(example, field) == value


@pytest.mark.parametrize("label, data, reason", REFUSED, ids=[c[0] for c in REFUSED])
def test_an_unusual_column_that_cannot_be_used_is_a_clear_error_and_writes_nothing(
    db, tmp_path, label, data, reason
):
    with pytest.raises(DatasetError) as error:
        dataset_import_file(path=write(tmp_path, data), name="odd")
    assert reason in str(error.value)
    assert "odd.parquet" in str(error.value)
    assert not Dataset.objects.exists() and not Example.objects.exists()


def test_a_file_named_parquet_that_is_not_is_named_as_unreadable(db, tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_bytes(b'{"prompt": "p", "answer": "1"}\n')
    with pytest.raises(DatasetError, match="fake.parquet: not a readable Parquet file"):
        dataset_import_file(path=path, name="fake")


@pytest.mark.parametrize("label, data, reason", REFUSED, ids=[c[0] for c in REFUSED])
def test_uploading_an_unusual_parquet_file_answers_with_the_reason_not_a_500(
    client, bob, settings, tmp_path, label, data, reason
):
    settings.VAR_DIR = tmp_path
    client.force_login(bob)
    sink = pa.BufferOutputStream()
    pq.write_table(data, sink)
    upload = SimpleUploadedFile("odd.parquet", sink.getvalue().to_pybytes())
    response = client.post(
        reverse("datasets:upload"),
        {"file": upload, "name": "odd", "format": "auto", "split": "train"},
    )
    assert response.status_code == 400
    assert reason.replace("'", "&#x27;") in response.content.decode()
    assert list((tmp_path / "uploads").iterdir()) == []
