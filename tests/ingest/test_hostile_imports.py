"""Rollout logs under hostile input (issue 23): a lone surrogate, numbers past a float or
whose mean overflows, a step in non-ASCII digits, a bad Parquet row. Each is a form
error naming its file and line or row, and nothing is imported; never a 500."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from r1web.ingest.logfiles import LogFileError, expand, read_rollouts
from r1web.runs.models import Run
from r1web.traces.models import Sample
from tests.ingest.test_imports import trl_table


def import_page(client, name: str, data: bytes, fmt: str = "verl"):
    form = {"files": [SimpleUploadedFile(name, data)], "format": fmt, "name": "hostile",
            "completion_format": "r1-zero"}
    return client.post(reverse("ingest:import"), form)


HOSTILE_LINES = [
    (rb'{"input": "a", "output": "b\ud800", "score": 1, "step": 1}',
     "line 1: field output: text that is not valid Unicode"),
    (rb'{"input": "a", "output": "b", "score": 1, "step": 1, "\udc00": 1}',
     "line 1: field \\udc00: text that is not valid Unicode"),
    ((b'{"input": "a", "output": "b", "score": 1e308, "step": 1}\n'
     b'{"input": "a", "output": "c", "score": 1e308, "step": 1}'),
     "line 1: field 'score' must be a finite number"),
    (b'{"input": "a", "output": "b", "score": 1' + b"0" * 400 + b', "step": 1}',
     "line 1: field 'score' must be a finite number"),
    (b'{"input": "a", "output": "b", "score": 1, "acc": 1' + b"0" * 400 + b', "step": 1}',
     "line 1: field 'acc' must be a finite number"),
    (b'{"input": "a", "output": "b", "score": 1, "step": 1' + b"0" * 400 + b"}",
     "line 1: step: must be between 0"),
]


@pytest.mark.parametrize("data, message", HOSTILE_LINES)
def test_a_hostile_verl_line_is_a_form_error_and_nothing_is_imported(
    client, alice, data, message
):
    client.force_login(alice)
    response = import_page(client, "1.jsonl", data + b"\n")
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Run.objects.exists() and not Sample.objects.exists()


@pytest.mark.parametrize("name", ["².jsonl", "٣.jsonl", "1٣.jsonl"])
def test_a_file_named_with_non_ascii_digits_is_not_read_as_a_step(client, alice, name):
    client.force_login(alice)
    response = import_page(client, name, b'{"input": "a", "output": "b", "score": 1}\n')
    assert response.status_code == 400
    assert "field &#x27;step&#x27; is missing" in response.content.decode()
    assert not Run.objects.exists()


def test_a_folder_of_files_named_with_non_ascii_digits_is_read_in_order(tmp_path):
    for name in ("².jsonl", "10.jsonl", "٣.jsonl"):
        (tmp_path / name).write_text('{"input": "a", "output": "b", "score": 1, "step": 1}\n')
    assert [name for name, _ in expand([tmp_path], "verl")][-1] == "10.jsonl"


def test_a_bad_parquet_value_is_named_at_its_own_row(tmp_path):
    table = trl_table(10)
    index = table.schema.get_field_index("advantage")
    table = table.set_column(index, "advantage", pa.array([0.0, 0.0, float("inf"), 0.0]))
    pq.write_table(table, tmp_path / "c.parquet")
    with pytest.raises(LogFileError) as refused:
        list(read_rollouts([("c.parquet", tmp_path / "c.parquet")], "trl"))
    assert str(refused.value) == (
        "c.parquet row 3: 'advantage' must be a finite number from -1e+100 to 1e+100"
    )


def test_a_parquet_text_past_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr("r1web.ingest.logfiles.MAX_TEXT_BYTES", 100)
    long = "x" * 101
    pq.write_table(trl_table(1, completion=["a", "b", long, "d"]), tmp_path / "c.parquet")
    with pytest.raises(LogFileError, match="c.parquet row 3: a text longer than"):
        list(read_rollouts([("c.parquet", tmp_path / "c.parquet")], "trl"))


def test_rewards_of_a_parquet_row_whose_sum_overflows_are_refused(tmp_path, alice):
    table = trl_table(1, accuracy_reward=[9e99] * 4, format_reward=[9e99] * 4)
    pq.write_table(table, tmp_path / "completions_00001.parquet")
    with pytest.raises(CommandError, match="row 1: reward: must be a finite number"):
        call_command("import_rollouts", str(tmp_path), "--user", "alice")
    assert not Run.objects.exists()
