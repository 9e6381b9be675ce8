"""Past runs' logs as browsable external runs: TRL's completions parquet files and verl's
rollout dumps; a malformed file is refused with its row or line, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from r1web.ingest.logfiles import LogFileError, expand, read_rollouts
from r1web.ingest.models import ExternalRun
from r1web.runs.models import Run
from r1web.traces.models import Sample


def trl_table(step: int, prompts=("What is 2 + 3?", "What is 4 + 4?"), g: int = 2, **columns):
    """A table with the columns GRPOTrainer.log writes (log_completions=True)."""
    n = len(prompts) * g
    table = {
        "step": [step] * n,
        "prompt": [p for p in prompts for _ in range(g)],
        "completion": [f"<think>add. wait</think> <answer>{5 + i}</answer>" for i in range(n)],
        "accuracy_reward": [1.0 if i % 2 == 0 else 0.0 for i in range(n)],
        "format_reward": [1.0] * (n - 1) + [float("nan")],  # NaN: the function did not apply
        "judge_note": ["fine"] * n,  # a log_extra column
        "advantage": [0.5 if i % 2 == 0 else -0.5 for i in range(n)],
    }
    table.update(columns)
    return pa.table(table)


@pytest.fixture
def trl_dir(tmp_path) -> Path:
    folder = tmp_path / "out" / "completions"
    folder.mkdir(parents=True)
    for step in (5, 10):
        pq.write_table(trl_table(step), folder / f"completions_{step:05d}.parquet")
    return folder


def verl_line(step: int, prompt: str, score: float, **fields) -> str:
    row = {
        "input": prompt,
        "output": f"<think>hmm</think> <answer>{int(score * 8)}</answer>",
        "gts": "8",
        "score": score,
        "step": step,
        "acc": score >= 1.0,
        "pred": "8",
        **fields,
    }
    return json.dumps(row)


@pytest.fixture
def verl_dir(tmp_path) -> Path:
    folder = tmp_path / "rollouts"
    folder.mkdir()
    for step in (1, 2):
        # verl balances batches by length: a group's completions need not be adjacent
        lines = [
            verl_line(step, p, s)
            for p, s in [("4 + 4?", 1.0), ("1 + 1?", 0.0), ("4 + 4?", 0.0), ("1 + 1?", 0.0)]
        ]
        (folder / f"{step}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_trl_completions_become_groups_with_every_reward_and_the_advantage(trl_dir):
    rows = list(read_rollouts(expand([trl_dir], "trl"), "trl"))
    assert len(rows) == 8
    first = rows[0]
    assert (first["step"], first["group"], first["index"]) == (5, 0, 0)
    assert first["rewards"] == {"accuracy_reward": 1.0, "format_reward": 1.0}
    assert (first["reward"], first["advantage"]) == (2.0, 0.5)
    assert [(r["group"], r["index"]) for r in rows[:4]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert "format_reward" not in rows[3]["rewards"]  # NaN: not scored by it


def test_chat_prompts_and_completions_are_read_as_text(tmp_path):
    table = trl_table(
        1,
        prompts=("x",),
        g=1,
        prompt=[[{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]],
        completion=[[{"role": "assistant", "content": "<answer>4</answer>"}]],
    )
    pq.write_table(table, tmp_path / "completions_00001.parquet")
    row = next(read_rollouts([("c.parquet", tmp_path / "completions_00001.parquet")], "trl"))
    assert row["prompt"] == "System: be brief\nUser: 2+2?"
    assert row["completion"] == "<answer>4</answer>"  # one message: its bare text


def test_num_generations_splits_a_prompt_drawn_twice(tmp_path):
    pq.write_table(trl_table(1, prompts=("same", "same"), g=2), tmp_path / "c.parquet")
    rows = list(read_rollouts([("c.parquet", tmp_path / "c.parquet")], "trl", 2))
    assert [(r["group"], r["index"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_verl_dumps_group_by_prompt_and_get_grpo_advantages(verl_dir):
    rows = list(read_rollouts(expand([verl_dir], "verl"), "verl"))
    assert len(rows) == 8
    step1 = [r for r in rows if r["step"] == 1]
    assert [(r["group"], r["index"]) for r in step1] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    right = step1[0]
    assert right["rewards"] == {"score": 1.0, "acc": 1.0} and right["reference"] == "8"
    assert right["advantage"] == pytest.approx(0.5 / (0.7071068 + 1e-6), rel=1e-5)
    assert step1[1]["advantage"] == 0.0  # a group with one score has no spread


def test_import_rollouts_makes_a_finished_browsable_run(trl_dir, alice, client, capsys):
    call_command("import_rollouts", str(trl_dir), "--user", "alice", "--name", "old run")
    run = Run.objects.get()
    assert (run.name, run.recipe, run.status) == ("old run", "external", "succeeded")
    assert run.external.source == ExternalRun.Source.TRL_PARQUET
    assert Sample.objects.filter(run=run).count() == 8
    assert Sample.objects.filter(run=run, correct=True).count() == 4  # accuracy_reward 1.0
    assert "imported 8 completions from 2 file(s)" in capsys.readouterr().out
    client.force_login(alice)
    page = client.get(reverse("traces:list"), {"run": run.pk})
    assert page.content.decode().count('class="sample-row"') == 8
    assert client.get(run.get_absolute_url()).status_code == 200


def curves(client, run) -> dict[str, dict]:
    """Each chart's series of a run's page: name -> {step: value}."""
    figures = client.get(reverse("runs:chart_data", args=[run.pk])).json()["figures"]
    return {
        f"{chart}/{trace['name']}": dict(zip(trace["x"], trace["y"], strict=True))
        for chart, figure in figures.items()
        for trace in figure["data"]
        if trace.get("x")
    }


def test_an_imported_run_charts_reward_accuracy_length_and_reflection(trl_dir, alice, client):
    """A dump holds completions, no metrics: its curves come from the completions, per
    step, as a worker's sink keeps them for r1web's own stages."""
    call_command("import_rollouts", str(trl_dir), "--user", "alice")
    run = Run.objects.get()
    client.force_login(alice)
    series = curves(client, run)
    # rewards per step: 1+1, 0+1, 1+1, 0 (+NaN: not applied) -> mean 1.25
    assert series["reward/total reward"] == {5: 1.25, 10: 1.25}
    assert series["accuracy/accuracy"] == {5: 0.5, 10: 0.5}
    assert series["reflection/reflection rate (detector)"] == {5: 1.0, 10: 1.0}  # "wait"
    lengths = Sample.objects.filter(run=run, step=5).values_list("length_tokens", flat=True)
    assert series["length/mean"][5] == sum(lengths) / len(lengths)


def test_a_verl_dump_imports_too(verl_dir, alice):
    call_command("import_rollouts", str(verl_dir), "--user", "alice")
    run = Run.objects.get()
    assert run.external.source == ExternalRun.Source.VERL and run.name == "rollouts"
    assert Sample.objects.filter(run=run).count() == 8
    assert Sample.objects.filter(run=run, correct=True).count() == 2  # acc


@pytest.mark.parametrize(
    "lines, message",
    [
        (
            ['{"input": "a", "output": "b", "score": 1, "step": 1}', "{not json"],
            "2.jsonl line 2: invalid JSON",
        ),
        (['{"input": "a", "output": "b", "score": NaN, "step": 1}'], "2.jsonl line 1: NaN is not"),
        (
            ['{"input": "a", "output": 3, "score": 1, "step": 1}'],
            "line 1: field 'output' must be text",
        ),
        (['{"input": "a", "output": "b", "step": 1}'], "line 1: field 'score' must be a finite"),
        (
            ['{"input": "a", "output": "b", "score": 1, "step": -4}'],
            "line 1: step: must be between",
        ),
        (["", "[1]"], "2.jsonl line 2: expected a JSON object"),
    ],
)
def test_a_malformed_verl_line_is_named_and_nothing_is_imported(verl_dir, alice, lines, message):
    (verl_dir / "2.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        call_command("import_rollouts", str(verl_dir), "--user", "alice")
    assert not Run.objects.exists() and not Sample.objects.exists()


@pytest.mark.parametrize(
    "columns, message",
    [
        ({"advantage": [0.0, 0.0, float("inf"), 0.0]}, "row 3: 'advantage' must be a finite"),
        ({"completion": ["a", "b", None, "d"]}, "row 3: 'completion' must be text"),
        ({"step": [10, 10, 10, -1]}, "row 4: step: must be between"),
        ({"accuracy_reward": [1.0, float("-inf"), 0.0, 0.0]}, "row 2: 'accuracy_reward' must be"),
    ],
)
def test_a_malformed_parquet_row_is_named_and_nothing_is_imported(trl_dir, alice, columns, message):
    table = trl_table(10)
    for name, values in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values))
    pq.write_table(table, trl_dir / "completions_00010.parquet")
    with pytest.raises(CommandError, match=f"completions_00010.parquet {message}"):
        call_command("import_rollouts", str(trl_dir), "--user", "alice")
    assert not Run.objects.exists() and not Sample.objects.exists()


def test_a_file_that_is_not_parquet_is_refused(tmp_path):
    (tmp_path / "completions_00001.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(LogFileError, match="not a readable Parquet file"):
        list(read_rollouts(expand([tmp_path], "trl"), "trl"))


def test_a_parquet_without_trls_columns_is_refused(tmp_path):
    pq.write_table(pa.table({"prompt": ["a"], "answer": ["b"]}), tmp_path / "x.parquet")
    with pytest.raises(LogFileError, match="not a TRL completions file"):
        list(read_rollouts([("x.parquet", tmp_path / "x.parquet")], "trl"))


def test_the_upload_form_imports_for_operators_only(client, alice, charlie, trl_dir):
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in sorted(trl_dir.iterdir())]
    client.force_login(charlie)
    assert client.get(reverse("ingest:import")).status_code == 403
    client.force_login(alice)
    response = client.post(
        reverse("ingest:import"),
        {
            "files": files,
            "format": "auto",
            "name": "uploaded",
            "completion_format": "r1-zero",
        },
    )
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert Sample.objects.filter(run=run).count() == 8


def test_a_malformed_upload_names_the_row_and_imports_nothing(client, alice, verl_dir):
    client.force_login(alice)
    bad = SimpleUploadedFile("7.jsonl", b'{"input": "a", "output": "b", "score": "high"}\n')
    response = client.post(
        reverse("ingest:import"),
        {
            "files": [bad],
            "format": "verl",
            "name": "bad",
            "completion_format": "r1-zero",
        },
    )
    assert response.status_code == 400
    assert (
        "7.jsonl line 1: field &#x27;score&#x27; must be a finite number"
        in response.content.decode()
    )
    assert not Run.objects.exists()


def test_an_upload_over_the_limit_is_refused(client, alice, settings, trl_dir):
    settings.R1WEB_UPLOAD_MAX_BYTES = 100
    client.force_login(alice)
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in sorted(trl_dir.iterdir())]
    response = client.post(
        reverse("ingest:import"),
        {
            "files": files,
            "format": "trl",
            "name": "big",
            "completion_format": "r1-zero",
        },
    )
    assert response.status_code == 413 and "import_rollouts" in response.content.decode()
    assert not Run.objects.exists()
