"""The ingestion API: a training script opens a run, sends completions, metrics and
progress in batches (any of them again), and finishes it."""

from __future__ import annotations

import pytest

from r1web.ingest.models import ExternalRun
from r1web.runs.models import MetricPoint, MetricRollup, Recipe, Run, Stage
from r1web.runs.services import run_cancel
from r1web.traces.models import Sample
from tests.ingest.conftest import batch, completion


def test_opening_a_run_makes_an_external_run_with_one_running_stage(api, alice):
    response = api.open(kind="grpo", config={"learning_rate": 1e-6, "num_generations": 4})
    assert response.status_code == 201
    run = Run.objects.get(pk=response.json()["run"])
    assert run.recipe == Recipe.EXTERNAL and run.status == "running"
    assert run.created_by == alice and run.name == "my TRL run"
    assert run.config["num_generations"] == 4
    stage = run.stages.get()
    assert (stage.kind, stage.status) == ("grpo", "running")
    assert response.json()["url"].endswith(f"/runs/{run.pk}/")


def test_opening_the_same_key_again_continues_the_same_run(api):
    first = api.open().json()["run"]
    again = api.open()
    assert again.status_code == 200 and again.json()["run"] == first
    assert Run.objects.count() == 1


def test_a_key_opened_by_someone_else_is_refused(api, api_as, django_user_model):
    from r1web.accounts.roles import role_grant

    dave = django_user_model.objects.create_user(username="dave")
    role_grant(user=dave, role="operator")
    api.open()
    assert api_as(dave).open().status_code == 409
    assert api_as(dave).records(samples=batch()).status_code == 404
    assert not Sample.objects.exists()


def test_completions_are_stored_with_what_r1web_derives_from_them(api):
    api.open()
    response = api.records(samples=batch(steps=(1, 2)))
    assert response.status_code == 200
    assert response.json()["samples"] == 16 and response.json()["stop"] is False
    sample = Sample.objects.get(step=2, group=1, index=0)
    assert sample.think == "add them. wait, recheck" and sample.answer == "8"
    assert sample.correct and sample.format_ok  # from the accuracy-like reward's score
    assert sample.reflection_phrases == ["wait", "recheck"]
    assert sample.rewards == {"accuracy_reward": 1.0, "format_reward": 1.0}
    assert (sample.reward, sample.advantage, sample.length_tokens) == (2.0, 1.0, 12)


def test_a_batch_sent_twice_stores_each_completion_once(api):
    api.open()
    for _ in range(2):
        assert api.records(samples=batch(steps=(1, 2))).status_code == 200
    # and overlapping batches too
    api.records(samples=batch(steps=(2, 3)))
    assert Sample.objects.count() == 24
    assert Sample.objects.filter(step=2).count() == 8


@pytest.mark.django_db(transaction=True)
def test_a_batch_sent_twice_stores_each_completion_once_through_copy(api):
    # 64 rows or more go through COPY on PostgreSQL (and bulk_create elsewhere)
    api.open()
    rows = batch(steps=(1, 2, 3), groups=8, per_group=4)  # 96
    first = api.records(samples=rows).json()
    second = api.records(samples=rows).json()
    assert Sample.objects.count() == 96
    if first["new"] is not None:
        assert (first["new"], second["new"]) == (96, 0)
    overlapping = api.records(samples=batch(steps=(3, 4, 5), groups=8, per_group=4)).json()
    assert Sample.objects.count() == 160
    if overlapping["new"] is not None:
        assert overlapping["new"] == 64  # step 3 was stored already


def test_metrics_are_stored_per_step_and_charted(api):
    api.open()
    api.records(
        metrics=[
            {"step": 2, "values": {"loss": 0.5, "reward": 1.25}},
            {"step": 4, "values": {"loss": 0.25, "reward": 1.5}},
        ],
        progress={"step": 4, "total": 10},
    )
    stage = Stage.objects.get()
    points = set(MetricPoint.objects.values_list("step", "key", "value"))
    assert points == {(2, "loss", 0.5), (2, "reward", 1.25), (4, "loss", 0.25), (4, "reward", 1.5)}
    assert MetricRollup.objects.filter(stage=stage, key="reward").exists()
    assert (stage.step, stage.total_steps) == (4, 10)


def test_a_replayed_old_batch_never_moves_progress_back(api):
    api.open()
    api.records(progress={"step": 7, "total": 10})
    api.records(progress={"step": 3, "total": 10})
    assert Stage.objects.get().step == 7


def test_a_metric_sent_again_keeps_the_last_value(api):
    api.open()
    api.records(
        metrics=[{"step": 1, "values": {"loss": 0.9}}, {"step": 1, "values": {"loss": 0.8}}]
    )
    api.records(metrics=[{"step": 1, "values": {"loss": 0.7}}])
    assert list(MetricPoint.objects.values_list("value", flat=True)) == [0.7]


def test_finishing_the_run_marks_it_succeeded_and_a_replay_changes_nothing(api):
    api.open()
    assert api.finish(status="succeeded").json() == {"status": "succeeded"}
    assert api.finish(status="failed", error="late").json() == {"status": "succeeded"}
    assert Run.objects.get().status == "succeeded"


def test_a_failed_script_fails_the_run_with_its_error(api):
    api.open()
    assert api.finish(status="failed", error="CUDA out of memory").json()["status"] == "failed"
    assert "CUDA out of memory" in Run.objects.get().error


def test_cancelling_the_run_in_r1web_tells_the_script_to_stop(api, alice):
    api.open()
    run_cancel(run=Run.objects.get(), acting_user=alice)
    assert api.records(samples=batch()).json()["stop"] is True
    assert api.finish(status="succeeded").json()["status"] == "cancelled"


def test_a_restarted_script_reopens_its_finished_run(api):
    api.open()
    api.finish(status="failed", error="preempted")
    api.open()
    assert Run.objects.get().status == "running"
    assert ExternalRun.objects.count() == 1


def test_nul_bytes_in_model_text_are_stored_as_replacement_characters(api):
    api.open()
    api.records(samples=[completion(1, 0, 0, completion="a\x00b", prompt="\x00")])
    sample = Sample.objects.get()
    assert (sample.completion, sample.prompt) == ("a\ufffdb", "\ufffd")


HOSTILE_BODIES = [
    (b'{"samples": [{"step": NaN}]}', "NaN is not a JSON number"),
    (b'{"samples": "x"}', "samples: must be a list"),
    (b"[1, 2]", "expected a JSON object"),
    (b"\xff\xfe", "invalid UTF-8"),
    (b'{"samples": ' + b"[" * 40 + b"]" * 40 + b"}", "nested deeper"),
    (b'{"samples": []' + b"x", "invalid JSON"),
    (b'{"metrics": [{"step": 1, "values": {"loss": 1e999}}]}', "must be a finite number"),
    (b'{"metrics": [{"step": 1, "values": {"loss": ' + b"9" * 5000 + b"}}]}", "too long"),
    (b'{"surprise": 1}', "unknown field 'surprise'"),
]


@pytest.mark.parametrize("body, message", HOSTILE_BODIES)
def test_a_hostile_body_is_refused_with_a_reason_and_nothing_is_written(api, body, message):
    api.open()
    response = api.post("/api/v1/runs/run-1/records/", None, raw=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Sample.objects.exists() and not MetricPoint.objects.exists()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"step": -1}, "samples[1].step: must be between 0"),
        ({"index": 40_000}, "samples[1].index: must be between 0 and 32767"),
        ({"group": 2**31}, "samples[1].group: must be between"),
        ({"step": True}, "samples[1].step: must be an integer"),
        ({"completion": None}, "samples[1].completion: must be text"),
        ({"completion": "x" * 1_000_001}, "longer than 1000000"),
        ({"rewards": {"acc": "1"}}, "samples[1].rewards.acc: must be a number"),
        ({"rewards": {"": 1.0}}, "a key must be 1 to 100"),
        ({"advantage": 1e309}, "Infinity is not a JSON number"),  # json.dumps writes Infinity
        ({"think": "mine"}, "unknown field 'think'"),
    ],
)
def test_one_bad_sample_refuses_the_whole_batch(api, fields, message):
    api.open()
    response = api.records(samples=[completion(1, 0, 0), {**completion(1, 0, 1), **fields}])
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Sample.objects.exists()


@pytest.mark.parametrize(
    "body, message",
    [
        ({"key": "has space"}, "key: 1 to 64 letters"),
        ({"key": "k" * 65}, "key: 1 to 64"),
        ({"key": "ok", "kind": "ppo"}, "kind: one of grpo, sft"),
        ({"key": "ok", "config": [1]}, "config: must be an object"),
        ({"key": "ok", "config": {"x": "y" * 300_000}}, "config: larger than"),
        ({"key": "ok", "completion_format": "xml"}, "completion_format"),
    ],
)
def test_a_bad_run_is_refused_and_nothing_is_written(api, body, message):
    response = api.post("/api/v1/runs/", body)
    assert response.status_code == 400 and message in response.json()["error"]
    assert not Run.objects.exists()


def test_a_body_over_the_limit_is_refused_unread(api, settings):
    settings.R1WEB_INGEST_MAX_BYTES = 1000
    api.open()
    response = api.records(samples=batch(groups=4))
    assert response.status_code == 413
    assert not Sample.objects.exists()


def test_records_for_an_unknown_run_are_refused(api):
    assert api.records(key="never-opened", samples=batch()).status_code == 404
    assert not Sample.objects.exists()


def test_the_api_takes_only_post(client, api):
    assert client.get("/api/v1/runs/").status_code == 405
