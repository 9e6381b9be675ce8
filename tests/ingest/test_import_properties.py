"""Property (issue 23): whatever a verl dump or a TRL completions file holds (lone
surrogates, NUL, huge and non-finite numbers, deep nesting, wrong shapes), whatever
the files are called and whatever is typed into the import and token forms, the answer
is never a 500; a refused import writes nothing, an accepted one only finite numbers."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from r1web.ingest.models import ApiToken, ExternalRun, RolloutImport
from r1web.runs.models import MetricPoint, Run
from r1web.traces.models import Sample
from tests.ingest.test_api_properties import JSON, NUMBERS, field

# Derandomized, as the API's properties; each example is an import through the form.
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# What a browser sends in a form: any text it can encode (no lone surrogate).
FORM_TEXT = st.one_of(st.text(max_size=30), st.sampled_from(
    ["", " ", "\x00", "<b>x</b>", "²", "٣", "9" * 400, "-1", "1e999", "nan", "verl", "trl",
     "auto", "r1-zero", "x" * 300]))
DIGITS = st.sampled_from(["1", "12", "²", "٣", "١٢", "𝟙", "0x1", ""])
NAMES = st.one_of(DIGITS.map(lambda d: f"{d}.jsonl"), st.text(max_size=12).map(
    lambda t: f"{t}.jsonl"))
VERL_ROW = st.fixed_dictionaries(
    {"input": field(st.text(max_size=10)), "output": field(st.text(max_size=20)),
     "score": field(st.floats(-2, 2))},
    optional={"step": field(st.integers(0, 3)), "gts": field(st.text(max_size=5)),
              "acc": field(st.booleans()), "pred": JSON, "extra": NUMBERS},
)
LINES = st.lists(st.one_of(VERL_ROW.map(json.dumps), VERL_ROW.map(json.dumps), JSON.map(
    json.dumps), st.binary(max_size=30).map(lambda b: b.decode("latin-1"))), min_size=1,
    max_size=5)


def row_counts() -> tuple[int, ...]:
    return tuple(model.objects.count()
                 for model in (Run, ExternalRun, Sample, MetricPoint, RolloutImport))


def only_finite_stored() -> bool:
    big = 1e100
    return not (Sample.objects.filter(reward__gt=big) | Sample.objects.filter(reward__lt=-big)
                | Sample.objects.filter(advantage__gt=big)
                | Sample.objects.filter(advantage__lt=-big)).exists()


def post_import(client, files: list[tuple[str, bytes]], fields: dict):
    form = {"files": [SimpleUploadedFile(name, data) for name, data in files],
            "format": "auto", "name": "hostile", "completion_format": "r1-zero", **fields}
    before = row_counts()
    response = client.post(reverse("ingest:import"), form)
    assert response.status_code < 500
    if response.status_code != 302:
        assert row_counts() == before
    assert only_finite_stored()
    return response


@pytest.fixture
def importer(client, alice, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client.force_login(alice)
    return client


@SETTINGS
@given(name=NAMES, lines=LINES, fmt=st.sampled_from(["auto", "verl", "trl"]))
@example(name="².jsonl", lines=['{"input": "a", "output": "b", "score": 1}'], fmt="verl")
@example(name="1.jsonl", lines=['{"input": "a", "output": "b\\ud800", "score": 1}'],
         fmt="verl")
@example(name="1.jsonl", lines=['{"input": "a", "output": "b", "score": 1' + "0" * 400 + "}"],
         fmt="verl")
@example(name="1.jsonl", lines=['{"input": "a", "output": "b", "score": 1e308}'] * 2,
         fmt="verl")
def test_no_verl_dump_breaks_the_import(importer, name, lines, fmt):
    post_import(importer, [(name, ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))],
                {"format": fmt})


TRL_TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["\x00", "<a>"]))
FLOATS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([1e308, -1e308, 1e101, 9e99]))


@st.composite
def trl_files(draw) -> bytes:
    """A completions file of TRL's columns, typed as TRL writes them, hostile within."""
    rows = draw(st.integers(1, 4))
    columns = {
        "step": pa.array(draw(st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
                                       min_size=rows, max_size=rows)), pa.int64()),
        "prompt": pa.array(draw(st.lists(TRL_TEXT, min_size=rows, max_size=rows))),
        "completion": pa.array(draw(st.lists(TRL_TEXT, min_size=rows, max_size=rows))),
    }
    for name in draw(st.lists(st.sampled_from(["accuracy_reward", "advantage", "format"]),
                              unique=True, max_size=3)):
        columns[name] = pa.array(draw(st.lists(FLOATS, min_size=rows, max_size=rows)),
                                 pa.float64())
    if draw(st.booleans()):
        del columns[draw(st.sampled_from(sorted(columns)))]
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


@settings(SETTINGS, max_examples=40)
@given(data=st.one_of(trl_files(), st.binary(max_size=200)), fields=st.fixed_dictionaries(
    {}, optional={"num_generations": FORM_TEXT, "completion_format": FORM_TEXT}))
def test_no_completions_file_breaks_the_import(importer, data, fields):
    post_import(importer, [("completions_00001.parquet", data)], {"format": "trl", **fields})


@settings(SETTINGS, max_examples=40)
@given(fields=st.fixed_dictionaries({}, optional={
    "name": FORM_TEXT, "format": FORM_TEXT, "num_generations": FORM_TEXT,
    "completion_format": FORM_TEXT}), token_name=FORM_TEXT)
def test_nothing_typed_into_the_import_or_token_forms_breaks_them(importer, fields, token_name):
    good = b'{"input": "a", "output": "b", "score": 1, "step": 1}\n'
    post_import(importer, [("1.jsonl", good)], fields)
    before = ApiToken.objects.count()
    response = importer.post(reverse("ingest:token_new"), {"name": token_name})
    assert response.status_code < 500
    assert ApiToken.objects.count() == before + (response.status_code == 200)


