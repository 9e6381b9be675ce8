from __future__ import annotations

import random

from r1web.runs import rollups, selectors
from r1web.runs.models import MetricPoint, MetricRollup
from r1web.runs.services import metrics_record


def test_combining_summaries_keeps_min_max_and_the_latest_value():
    parts = [(0, 1.0, 5.0, 10, 2.0, 11), (11, -3.0, 4.0, 20, 0.5, 10)]
    assert rollups.combine(parts) == (0, -3.0, 5.0, 20, 0.5, 21)
    assert rollups.combine([]) is None


def test_the_coarsest_level_that_fits_a_bucket_is_used():
    assert rollups.level_for(10) is None
    assert rollups.level_for(1667) == 1024
    assert rollups.level_for(10**6) == 32768


def test_recording_metrics_keeps_the_block_summaries_current(make_run):
    stage = make_run()
    for step in range(100):
        metrics_record(stage_pk=stage.pk, step=step, values={"loss": float(step % 7)})
    metrics_record(stage_pk=stage.pk, step=40, values={"loss": 99.0})  # logged again
    block = MetricRollup.objects.get(stage=stage, key="loss", size=32, block=1)
    assert (block.low, block.high, block.last_step, block.count) == (0.0, 99.0, 63, 32)
    top = MetricRollup.objects.get(stage=stage, key="loss", size=1024, block=0)
    assert (top.high, top.last_step, top.last, top.count) == (99.0, 99, 99 % 7, 100)


def test_discarding_steps_after_a_checkpoint_forgets_their_extremes(make_run):
    stage = make_run()
    for step in range(70):
        metrics_record(stage_pk=stage.pk, step=step, values={"kl": 50.0 if step == 65 else 1.0})
    MetricPoint.objects.filter(stage=stage, step__gt=40).delete()
    rollups.discard_after(stage_pk=stage.pk, step=40)
    top = MetricRollup.objects.get(stage=stage, key="kl", size=1024)
    assert (top.high, top.last_step, top.count) == (1.0, 40, 41)
    assert not MetricRollup.objects.filter(stage=stage, size=32, block=2).exists()


def test_charts_from_summaries_agree_with_charts_from_raw_points(make_run):
    stage = make_run()
    rng = random.Random(1)
    MetricPoint.objects.bulk_create(
        MetricPoint(stage=stage, step=s, key="reward", value=rng.random()) for s in range(40_000)
    )
    raw = selectors.metric_series([stage.pk], "reward", None, 20)
    rollups.rebuild(stage_pk=stage.pk)
    summarised = selectors.metric_series([stage.pk], "reward", None, 20)
    assert MetricRollup.objects.filter(stage=stage, size=1024).count() == 40
    assert min(y for _, y in summarised) == min(y for _, y in raw)
    assert max(y for _, y in summarised) == max(y for _, y in raw)
    assert summarised[-1] == raw[-1] == (39_999, MetricPoint.objects.get(stage=stage, step=39_999).value)


def test_samples_keep_per_step_statistics_as_metric_points(make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=2, groups=2, per_group=4)
    points = dict(
        MetricPoint.objects.filter(stage=stage, step=2, key__startswith="samples/")
        .values_list("key", "value")
    )
    # make_samples: half the samples correct, the first of each group reflective
    assert points["samples/count"] == 8
    assert points["samples/accuracy"] == 0.5
    assert points["samples/reflection_rate"] == 0.25
    assert points["samples/length_min"] == 12 and points["samples/length_max"] == 15
    assert MetricRollup.objects.filter(stage=stage, key="samples/count").exists()


def test_a_step_written_in_two_batches_counts_both(make_run, make_samples):
    from r1domain.base import SampleRecord
    from r1web.traces.services import samples_record

    stage = make_run()
    make_samples(stage, steps=1, groups=1, per_group=4)
    later = SampleRecord(step=1, group=5, index=0, prompt="p", completion="c", think="", answer="",
                         reference="", rewards={}, reward=0.0, advantage=0.0, length_tokens=3,
                         correct=False, format_ok=False, reflection_phrases=[])
    samples_record(stage=stage, records=[later])
    count = MetricPoint.objects.get(stage=stage, step=1, key="samples/count")
    assert count.value == 5


def test_the_aha_finder_reads_the_per_step_points_not_the_samples(make_run, make_samples,
                                                                  django_assert_max_num_queries):
    stage = make_run()
    make_samples(stage, steps=3, groups=2, per_group=4)
    with django_assert_max_num_queries(1):
        counts = selectors.reflection_counts([stage.pk])
    assert [(c.step, c.total, c.reflective) for c in counts] == [(1, 8, 2), (2, 8, 2), (3, 8, 2)]


def test_probe_answers_stay_out_of_the_training_statistics(make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=1, groups=1, per_group=4)
    make_samples(stage, steps=1, groups=1, per_group=4, probe=True, correct=True)
    assert MetricPoint.objects.get(stage=stage, step=1, key="samples/count").value == 4
