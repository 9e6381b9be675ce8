"""The run's figures are built once per change of their data: polls between two writes
reuse them, and every kind of write is seen at the next poll."""

from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.runs import selectors
from r1web.runs.models import Stage
from r1web.runs.services import _discard_unfinished_work, metrics_record
from r1web.traces.models import Flag, Sample
from r1web.traces.services import sample_flag, sample_unflag


@pytest.fixture
def live(make_run, make_samples):
    stage = make_run(total_steps=10, step=3)
    make_samples(stage, steps=3)
    for step in (1, 2, 3):
        metrics_record(stage_pk=stage.pk, step=step, values={"kl": 0.01 * step})
    return stage


def poll(client, stage, **params) -> dict:
    url = reverse("runs:chart_data", args=[stage.run_id])
    return client.get(url, {"smoothing": "0", **params}).json()["figures"]


def kl_steps(figures) -> list[int]:
    return figures["kl"]["data"][0]["x"]


def flag_steps(figures) -> list[int]:
    traces = figures["reflection"]["data"]
    return next((t["x"] for t in traces if t["name"] == "human reflection flags"), [])


@pytest.fixture
def builds(monkeypatch):
    """How many times the figures were built from the database."""
    calls = []
    real = selectors.run_figures

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(selectors, "run_figures", counting)
    return calls


def test_polls_between_two_writes_build_the_figures_once(viewer, live, builds):
    first = poll(viewer, live)
    assert poll(viewer, live) == first
    viewer.get(reverse("runs:detail", args=[live.run_id]), {"smoothing": "0"})  # the same
    assert len(builds) == 1
    metrics_record(stage_pk=live.pk, step=4, values={"kl": 0.04})
    assert kl_steps(poll(viewer, live)) == [1, 2, 3, 4]
    assert len(builds) == 2


def test_new_samples_and_metrics_show_at_the_next_poll(viewer, live, make_samples):
    assert kl_steps(poll(viewer, live)) == [1, 2, 3]
    metrics_record(stage_pk=live.pk, step=4, values={"kl": 0.04})
    metrics_record(stage_pk=live.pk, step=2, values={"kl": 0.5})  # a value replaced
    kl = poll(viewer, live)["kl"]["data"][0]
    assert kl["x"] == [1, 2, 3, 4] and kl["y"][1] == 0.5

    before = poll(viewer, live)["length"]["data"][0]["x"]
    make_samples(live, steps=5)  # steps 4 and 5 are new
    assert poll(viewer, live)["length"]["data"][0]["x"] == [*before, 4, 5]


def test_a_flag_set_or_removed_shows_at_the_next_poll(viewer, live, bob):
    assert flag_steps(poll(viewer, live)) == []
    sample = Sample.objects.filter(stage=live, step=2).first()
    sample_flag(sample=sample, user=bob, label="aha")
    assert flag_steps(poll(viewer, live)) == [2]
    sample_unflag(flag=Flag.objects.get(), user=bob)
    assert flag_steps(poll(viewer, live)) == []


def test_a_resume_that_discards_steps_takes_them_off_the_charts(viewer, live):
    assert kl_steps(poll(viewer, live)) == [1, 2, 3]
    Stage.objects.filter(pk=live.pk).update(attempt=2)
    live.refresh_from_db()
    _discard_unfinished_work(live)  # no checkpoint: everything is trained again
    assert poll(viewer, live)["kl"]["data"] == []


def test_overlaid_runs_keep_their_order_and_a_renamed_run_its_new_name(viewer, live, make_run):
    other = make_run(name="other run")
    metrics_record(stage_pk=other.pk, step=1, values={"kl": 0.5})
    url = reverse("runs:chart_data", args=[live.run_id])
    names = [t["name"] for t in viewer.get(url, {"compare": other.run_id}).json()["figures"]["kl"]["data"]]
    back = reverse("runs:chart_data", args=[other.run_id])
    reverse_names = [t["name"] for t in viewer.get(back, {"compare": live.run_id}).json()["figures"]["kl"]["data"]]
    assert names[0].startswith(f"#{live.run_id} ") and reverse_names[0].startswith(f"#{other.run_id} ")

    other.run.name = "renamed"
    other.run.save()
    names = [t["name"] for t in viewer.get(url, {"compare": other.run_id}).json()["figures"]["kl"]["data"]]
    assert any("renamed" in name for name in names)


def test_the_aha_step_is_found_once_per_change_of_the_samples(make_run, monkeypatch):
    # A 25,000-step run reads 50,000 per-step counts to find it: every run page did.
    from r1domain.base import SampleRecord
    from r1web.runs import chart_cache
    from r1web.traces.services import samples_record

    stage = make_run(total_steps=20)

    def steps(first: int, last: int, phrases: list[str]) -> None:
        samples_record(stage=stage, records=[
            SampleRecord(step=step, group=0, index=index, prompt="p", completion="c",
                         think="", answer="", reference="", rewards={}, reward=0.0,
                         advantage=0.0, length_tokens=2, correct=False, format_ok=True,
                         reflection_phrases=phrases)
            for step in range(first, last + 1) for index in range(8)])

    finds = []
    real = selectors.run_aha
    monkeypatch.setattr(selectors, "run_aha",
                        lambda *args: finds.append(args) or real(*args))
    steps(1, 6, [])
    assert chart_cache.run_aha(stage.run)[0] is None
    assert chart_cache.run_aha(stage.run)[0] is None
    assert len(finds) == 1

    steps(7, 16, ["wait"])  # from step 7 on, every sample reflects
    aha, examples = chart_cache.run_aha(stage.run)
    assert aha is not None and aha.step == 7
    assert {sample.step for sample in examples} == {7}
    assert len(finds) == 2
