from __future__ import annotations

import csv
import html
import io

import pytest
from django.urls import reverse

from r1web.runs.models import MetricPoint, Run, Stage, StageKind
from r1web.runs.services import metrics_record
from r1web.traces.models import Flag, Sample

HTMX = {"HX-Request": "true"}


def test_the_run_list_shows_progress_and_the_held_out_change_not_a_training_batch(viewer, make_run):
    stage = make_run(step=5, total_steps=20)
    metrics_record(stage_pk=stage.pk, step=5, values={"reward": 1.5, "rewards/accuracy/mean": 0.188})
    for position, label, score in ((1, "before", 0.194), (2, "after", 0.448)):
        Stage.objects.create(run=stage.run, position=position, name=f"evaluate {label}",
                             kind=StageKind.EVAL, params={"label": label},
                             result={"pass@1": score, "k": 8})
    page = viewer.get(reverse("runs:list")).content.decode()
    assert 'aria-valuenow="25"' in page
    assert "0.194" in page and "0.448" in page and "+0.254" in page
    assert "0.188" not in page  # the last training batch is no held-out result
    assert 'hx-trigger="every 3s"' in page


def test_htmx_polling_gets_only_the_run_table(viewer, make_run):
    make_run()
    response = viewer.get(reverse("runs:list"), headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith('<div id="run-table"')
    assert "<html" not in body


def test_polling_stops_once_every_run_has_finished(viewer, make_run):
    make_run(status="succeeded")
    response = viewer.get(reverse("runs:list"), headers=HTMX)
    assert response.status_code == 286  # htmx's "stop polling"
    assert "succeeded" in response.content.decode()


def test_a_viewer_sees_no_new_run_button(viewer, db):
    assert "New run" not in viewer.get(reverse("runs:list")).content.decode()


@pytest.fixture
def tiny_model(tmp_path, settings):
    """A model folder under the models directory (enough for launching; nothing trains)."""
    settings.MODELS_DIR = tmp_path
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "config.json").write_text("{}")
    return tmp_path / "base"


def test_the_new_run_page_lists_every_recipe_with_its_form(operator):
    page = operator.get(reverse("runs:new")).content.decode()
    for recipe in ("r1-zero", "cold-start-sft", "r1", "distill"):
        assert reverse("runs:launch", args=[recipe]) in page
        form = operator.get(reverse("runs:launch", args=[recipe])).content.decode()
        assert 'name="queue"' in form and "gpu" in form


def test_an_operator_starts_a_run_from_the_form_on_the_gpu_queue(operator, alice, tiny_model):
    response = operator.post(reverse("runs:launch", args=["r1-zero"]), {
        "model": "base", "max_steps": "7", "queue": "gpu",
        "grpo_config": "learning_rate=1e-5\nlogging_steps=1",
    })
    assert response.status_code == 302
    run = Run.objects.get()
    grpo = run.stages.get(key="grpo")
    assert run.created_by == alice and grpo.queue == "gpu"
    assert grpo.trl_config["learning_rate"] == 1e-5 and grpo.trl_config["max_steps"] == 7
    assert "use_cpu" not in grpo.trl_config and "bf16" not in grpo.trl_config


def test_a_bad_trl_field_is_shown_in_the_form_and_nothing_is_written(operator, tiny_model):
    response = operator.post(reverse("runs:launch", args=["r1-zero"]),
                             {"model": "base", "queue": "cpu", "grpo_config": '{"lerning_rate": 1}'})
    assert response.status_code == 200
    assert "did you mean learning_rate" in response.content.decode()
    assert Run.objects.count() == 0


def test_malformed_json_config_is_a_form_error(operator):
    response = operator.post(reverse("runs:launch", args=["r1-zero"]),
                             {"queue": "cpu", "grpo_config": "{not json"})
    assert "not valid JSON" in response.content.decode()
    assert Run.objects.count() == 0


def test_a_viewer_cannot_launch(viewer):
    assert viewer.post(reverse("runs:launch", args=["r1-zero"]), {"queue": "cpu"}).status_code == 403
    assert Run.objects.count() == 0


def test_an_operator_cancels_a_running_run(operator, make_run):
    stage = make_run(status="queued")
    response = operator.post(reverse("runs:cancel", args=[stage.run_id]), follow=True)
    assert Run.objects.get().status == "cancelled"
    assert "being cancelled" in response.content.decode()


def test_resuming_a_run_that_cannot_resume_shows_why(operator, make_run):
    stage = make_run(status="running")
    response = operator.post(reverse("runs:resume", args=[stage.run_id]), follow=True)
    assert "no failed or cancelled stage to resume" in response.content.decode()


def test_an_operator_resumes_a_failed_run(operator, make_run, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr("r1web.runs.services._enqueue", lambda stage: None)
    stage = make_run(status="failed")
    operator.post(reverse("runs:resume", args=[stage.run_id]))
    assert Stage.objects.get().status == "queued"


@pytest.fixture
def trained(make_run, make_samples, bob):
    stage = make_run(total_steps=3, step=3)
    make_samples(stage, steps=3)
    for step in (1, 2, 3):
        metrics_record(stage_pk=stage.pk, step=step, values={
            "reward": step / 3, "rewards/accuracy/mean": 0.5, "rewards/format/mean": 1.0, "kl": 0.01 * step,
        })
    sample = Sample.objects.filter(step=2).first()
    Flag.objects.create(sample=sample, run=stage.run, step=2, label="aha", created_by=bob)
    return stage


def test_the_run_page_embeds_every_chart_as_json(viewer, trained):
    page = viewer.get(reverse("runs:detail", args=[trained.run_id])).content.decode()
    assert '<script id="run-figures" type="application/json">' in page
    for slug in ("reward", "accuracy", "length", "reflection", "kl", "loss"):
        assert f'id="chart-{slug}"' in page
    assert "<script>" not in page  # no inline scripts


def test_chart_data_has_logged_metrics_sample_statistics_and_flags(viewer, trained):
    url = reverse("runs:chart_data", args=[trained.run_id])
    body = viewer.get(url, {"smoothing": "0"}).json()
    figures = body["figures"]
    names = {t["name"] for t in figures["reward"]["data"]}
    assert names == {"total reward", "accuracy", "format"}
    length = {t["name"]: t["y"] for t in figures["length"]["data"]}
    assert length["min"] == [11.0, 12.0, 13.0] and length["max"] == [14.0, 15.0, 16.0]
    flags = next(t for t in figures["reflection"]["data"] if t["name"] == "human reflection flags")
    assert flags["x"] == [2] and flags["y"] == [1]
    assert body["live"] is True


def test_chart_data_follows_the_zoomed_range(viewer, trained):
    url = reverse("runs:chart_data", args=[trained.run_id])
    figures = viewer.get(url, {"x0": "2", "x1": "3"}).json()["figures"]
    assert figures["kl"]["data"][0]["x"] == [2, 3]


def test_chart_data_can_be_smoothed_like_wandb(viewer, trained):
    url = reverse("runs:chart_data", args=[trained.run_id])
    kl = viewer.get(url, {"smoothing": "0.8"}).json()["figures"]["kl"]["data"]
    raw, smoothed = kl[0], kl[1]
    assert raw["name"] == smoothed["name"] and raw["opacity"] < 1
    assert raw["x"] == smoothed["x"]


def test_a_long_series_is_downsampled_in_the_database(viewer, make_run):
    stage = make_run()
    MetricPoint.objects.bulk_create(
        MetricPoint(stage=stage, step=s, key="loss", value=1.0 if s != 4321 else 99.0) for s in range(10_000)
    )
    url = reverse("runs:chart_data", args=[stage.run_id])
    loss = viewer.get(url, {"points": "100"}).json()["figures"]["loss"]["data"][0]
    assert len(loss["x"]) <= 300
    assert max(loss["y"]) == 99.0  # the spike survives
    assert loss["x"][-1] == 9999


def test_runs_can_be_overlaid(viewer, trained, make_run):
    other = make_run(name="other run")
    metrics_record(stage_pk=other.pk, step=1, values={"kl": 0.5})
    url = reverse("runs:chart_data", args=[trained.run_id])
    query = {"compare": f"{other.run_id},999", "smoothing": "0"}
    kl = viewer.get(url, query).json()["figures"]["kl"]["data"]
    assert [t["name"] for t in kl] == [f"#{trained.run_id} demo run: KL", f"#{other.run_id} other run: KL"]


def test_metrics_download_as_csv(viewer, trained):
    response = viewer.get(reverse("runs:metrics_csv", args=[trained.run_id]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["run", "source", "step", "key", "value"]
    assert [str(trained.run_id), "GRPO", "3", "kl", "0.03"] in rows
    assert any(row[1] == "samples" and row[3] == "reflective" for row in rows)


def test_the_run_page_names_the_aha_step_with_examples(viewer, make_run, make_samples):
    stage = make_run()
    base = Stage.objects.create(run=stage.run, position=1, name="evaluate base", kind=StageKind.EVAL,
                                params={"label": "before"})
    make_samples(base, steps=1, groups=10, per_group=4, reflection_phrases=[])
    make_samples(stage, steps=6, groups=10, per_group=4, reflection_phrases=["wait"])
    page = viewer.get(reverse("runs:detail", args=[stage.run_id])).content.decode()
    assert "From step <strong>1</strong>" in page
    assert reverse("traces:sample", args=[Sample.objects.filter(stage=stage, step=1).first().pk]) in page


def test_the_aha_step_links_to_the_training_samples_around_it_with_and_without_reflection(
    viewer, make_run, make_samples
):
    stage = make_run()
    base = Stage.objects.create(run=stage.run, position=1, name="evaluate base", kind=StageKind.EVAL,
                                params={"label": "before"})
    make_samples(base, steps=1, groups=10, per_group=4, reflection_phrases=[])
    make_samples(stage, steps=15, groups=1, per_group=4)  # a quarter reflect, from step 1
    page = viewer.get(reverse("runs:detail", args=[stage.run_id])).content.decode()
    aha = int(page.split("From step <strong>", 1)[1].split("<", 1)[0])
    around = page[page.index('id="aha-around"'):]
    assert f"steps {max(0, aha - 10)}–{aha + 10}" in around

    def listed(label: str) -> set[int]:
        href = around.split(f'">{label}</a>')[0].rsplit('href="', 1)[1]
        listing = viewer.get(html.unescape(href)).content.decode()
        return {sample.pk for sample in Sample.objects.all()
                if reverse("traces:sample", args=[sample.pk]) in listing}

    window = Sample.objects.filter(stage=stage, step__lte=aha + 10)
    assert listed("samples that reflect") == set(
        window.filter(reflection_count__gt=0).values_list("pk", flat=True))
    assert listed("samples that do not") == set(
        window.filter(reflection_count=0).values_list("pk", flat=True))


def test_stage_polling_stops_when_the_stage_finished(viewer, make_run):
    stage = make_run(status="succeeded")
    response = viewer.get(reverse("runs:stage", args=[stage.pk]), headers=HTMX)
    assert response.status_code == 286
    assert response.content.decode().strip().startswith('<section id="stage-progress"')


def test_the_run_page_polls_only_its_stages_fragment(viewer, make_run):
    stage = make_run(status="running")
    response = viewer.get(reverse("runs:detail", args=[stage.run_id]), headers=HTMX)
    assert response.status_code == 200
    assert response.content.decode().strip().startswith('<section id="stages"')


def test_checkpoint_page_shows_its_path(viewer, make_run):
    from r1web.runs.models import Checkpoint

    checkpoint = Checkpoint.objects.create(name="base", path="/models/base")
    assert "/models/base" in viewer.get(checkpoint.get_absolute_url()).content.decode()


def test_the_recipes_own_refusal_reaches_the_form_and_writes_nothing(operator, tiny_model):
    response = operator.post(reverse("runs:launch", args=["r1-zero"]),
                             {"model": str(tiny_model.parent / "missing"), "queue": "cpu"})
    assert "is not available" in response.content.decode()
    assert Run.objects.count() == 0


def test_a_multi_stage_runs_charts_can_show_one_training_stage(viewer, make_run):
    from r1web.runs.models import MetricPoint, Stage, StageKind

    first = make_run(status="succeeded", key="reasoning-rl")
    second = Stage.objects.create(run=first.run, position=1, key="rl-final", name="final RL",
                                  kind=StageKind.GRPO, status="succeeded")
    MetricPoint.objects.create(stage=first, step=1, key="reward", value=0.25)
    MetricPoint.objects.create(stage=second, step=1, key="reward", value=0.75)
    url = reverse("runs:chart_data", args=[first.run_id])

    def rewards(query: str) -> list:
        figure = viewer.get(url + query + "&smoothing=0").json()["figures"]["reward"]
        return sorted(y for trace in figure["data"] if trace.get("name", "").endswith("reward")
                      for y in trace["y"])

    assert rewards("?stage=rl-final") == [0.75]
    assert rewards("?stage=reasoning-rl") == [0.25]
    page = viewer.get(reverse("runs:detail", args=[first.run_id])).content.decode()
    assert '<option value="rl-final">final RL</option>' in page


# --- the runs list: filters, sort, pages ---------------------------------------------

def _runs(count: int, **fields) -> list[Run]:
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    return [
        Run.objects.create(name=f"run {i}", recipe=fields.get("recipe", "r1-zero"),
                           status=fields.get("status", "succeeded"),
                           created_by=fields.get("created_by"),
                           created_at=now - timedelta(minutes=count - i))
        for i in range(count)
    ]


def _row_ids(page: str) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r'<tr id="run-(\d+)"', page)]


def test_the_newest_run_comes_first(viewer):
    runs = _runs(3)
    page = viewer.get(reverse("runs:list")).content.decode()
    assert _row_ids(page) == [run.pk for run in reversed(runs)]


def test_the_list_filters_by_recipe_status_and_person(viewer, alice, charlie):
    mine = Run.objects.create(name="alice r1", recipe="r1", status="failed", created_by=alice)
    Run.objects.create(name="charlie zero", recipe="r1-zero", status="failed", created_by=charlie)
    Run.objects.create(name="alice zero", recipe="r1-zero", status="succeeded", created_by=alice)
    url = reverse("runs:list")
    assert _row_ids(viewer.get(url, {"recipe": "r1"}).content.decode()) == [mine.pk]
    failed_by_alice = viewer.get(url, {"status": "failed", "by": "alice"}).content.decode()
    assert _row_ids(failed_by_alice) == [mine.pk]
    assert "1 run match these filters" in failed_by_alice
    # A value the form does not offer is ignored rather than an error.
    assert len(_row_ids(viewer.get(url, {"status": "exploded"}).content.decode())) == 3


def test_the_list_sorts_by_status_and_says_so(viewer):
    failed, succeeded = _runs(1, status="failed") + _runs(1, status="succeeded")
    page = viewer.get(reverse("runs:list"), {"sort": "-status"}).content.decode()
    assert _row_ids(page) == [succeeded.pk, failed.pk]
    assert 'aria-sort="descending"' in page
    assert 'href="?sort=status"' in page  # the next click reverses it


def test_the_list_pages_with_real_links_that_keep_the_filters(viewer):
    runs = _runs(30, status="failed")
    url = reverse("runs:list")
    first = viewer.get(url, {"status": "failed"}).content.decode()
    assert len(_row_ids(first)) == 25
    assert 'href="?status=failed&amp;page=2"' in first
    second = viewer.get(url, {"status": "failed", "page": "2"}).content.decode()
    assert _row_ids(second) == [run.pk for run in reversed(runs[:5])]


def test_htmx_gets_only_the_table_for_a_sort_with_vary(viewer, make_run):
    make_run(status="succeeded")
    response = viewer.get(reverse("runs:list"), {"sort": "recipe"}, headers=HTMX)
    assert response.content.decode().strip().startswith('<div id="run-table"')
    assert "HX-Request" in response["Vary"]


def test_a_page_of_the_list_costs_the_same_queries_for_3_runs_or_25(viewer, alice, make_run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get(reverse("runs:list")).status_code == 200
        return len(captured)

    for _ in range(3):
        make_run(status="succeeded")
    Run.objects.update(created_by=alice)
    few = queries()
    for _ in range(22):
        make_run(status="succeeded")
    Run.objects.update(created_by=alice)
    assert queries() == few


# --- the run page: summary, integers, lineage under the charts -------------------------

@pytest.fixture
def evaluated(trained):
    for position, label, score in ((1, "before", 0.2), (2, "after", 0.45)):
        Stage.objects.create(run=trained.run, position=position, name=f"evaluate {label}",
                             kind=StageKind.EVAL, status="succeeded", params={"label": label},
                             result={"pass@1": score, "maj@k": score, "k": 8, "mean_length": 20.0})
    return trained


def test_the_run_page_opens_with_its_evaluations_and_deltas(viewer, evaluated):
    page = viewer.get(reverse("runs:detail", args=[evaluated.run_id])).content.decode()
    summary = page[page.index('id="summary"'):page.index('id="stages"')]
    assert "0.200" in summary and "0.450" in summary and "+0.250" in summary
    assert ">8<" in summary and "8.000" not in summary  # k is a count


def test_the_run_page_tells_the_training_story_from_start_to_end(viewer, trained):
    page = viewer.get(reverse("runs:detail", args=[trained.run_id])).content.decode()
    story = page[page.index('id="story"'):page.index('id="aha"')]
    # reward logged 1/3, 2/3, 1: with three steps the ends are the first and last step
    assert "0.333" in story and "1.000" in story and "+0.667" in story
    assert "reflection rate" in story and "mean length" in story


def test_integers_in_a_stage_result_print_as_integers(viewer, evaluated):
    page = viewer.get(reverse("runs:detail", args=[evaluated.run_id])).content.decode()
    stages = page[page.index('id="stages"'):page.index('id="charts"')]
    assert "k: 8<" in stages and "k: 8.000" not in stages
    assert "pass@1: 0.450" in stages


def test_the_lineage_comes_after_the_charts(viewer, trained):
    page = viewer.get(reverse("runs:detail", args=[trained.run_id])).content.decode()
    assert page.index('id="summary"') < page.index('id="charts"') < page.index('id="lineage"')


def test_charts_are_smoothed_by_default_and_can_be_turned_off(viewer, trained):
    url = reverse("runs:chart_data", args=[trained.run_id])
    default = viewer.get(url).json()["figures"]["kl"]["data"]
    assert len(default) == 2 and default[0]["opacity"] < 1  # faint raw line behind
    assert len(viewer.get(url, {"smoothing": "0"}).json()["figures"]["kl"]["data"]) == 1


def test_a_queued_runs_charts_say_no_data_yet(viewer, make_run):
    stage = make_run(status="queued")
    figures = viewer.get(reverse("runs:chart_data", args=[stage.run_id])).json()["figures"]
    for figure in figures.values():
        assert figure["data"] == []
        assert figure["layout"]["annotations"][0]["text"] == "No data yet"


def test_the_run_page_reads_summaries_and_never_aggregates_the_samples(viewer, make_run, make_samples):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    stage = make_run(status="succeeded")
    base = Stage.objects.create(run=stage.run, position=1, name="evaluate base",
                                kind=StageKind.EVAL, params={"label": "before"})
    make_samples(base, steps=1, groups=4, per_group=4, reflection_phrases=[])
    make_samples(stage, steps=6, groups=4, per_group=4, reflection_phrases=["wait"])

    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            page = viewer.get(reverse("runs:detail", args=[stage.run_id])).content.decode()
        assert "From step <strong>1</strong>" in page  # the aha finder still works
        return [q["sql"] for q in captured.captured_queries]

    few = queries()
    assert not [sql for sql in few if "traces_sample" in sql and "GROUP BY" in sql.upper()]
    make_samples(stage, steps=30, groups=4, per_group=4, reflection_phrases=["wait"])
    assert len(queries()) == len(few)  # however many steps and samples there are


def test_the_stage_page_prints_integer_results_as_integers(viewer, evaluated):
    stage = Stage.objects.get(run=evaluated.run, params__label="after")
    page = viewer.get(reverse("runs:stage", args=[stage.pk])).content.decode()
    result = page[page.index('id="stage-result"'):]
    assert "k=8\n" in result and "pass@1=0.450" in result
