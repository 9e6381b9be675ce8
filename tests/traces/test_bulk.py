"""Batches of samples as the sink and the API store them: large ones go through COPY on
PostgreSQL (bulk_create elsewhere), and a replayed batch never stores a sample twice."""

from __future__ import annotations

import pytest

from r1domain.base import SampleRecord
from r1web.traces.bulk import COPY_FROM_ROWS
from r1web.traces.models import Sample
from r1web.traces.services import samples_record


def records(steps, groups: int = 12, per_group: int = 8) -> list[SampleRecord]:
    return [
        SampleRecord(
            step=step, group=group, index=index,
            prompt=f"What is {group} + {step}?",
            completion=f"<think>add {index}\x00 wait, recheck</think><answer>{group + step}</answer>",
            think=f"add {index}\x00 wait, recheck", answer=str(group + step), reference="",
            rewards={"accuracy": 1.0, "format": 0.5}, reward=1.5, advantage=-0.25,
            length_tokens=20 + index, correct=True, format_ok=True,
            reflection_phrases=["wait", "recheck"], example_key=f"ex-{group}",
            judge={"prompt": "judge?", "raw": "yes"} if index == 0 else {},
        )
        for step in steps
        for group in range(groups)
        for index in range(per_group)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_large_batch_keeps_every_field_and_a_replay_that_overlaps_adds_only_the_new(make_run):
    stage = make_run()
    first = records(steps=(1, 2))
    assert len(first) >= COPY_FROM_ROWS  # the COPY path where the database has one
    samples_record(stage=stage, records=first)
    samples_record(stage=stage, records=records(steps=(2, 3)))  # step 2 again
    samples_record(stage=stage, records=first)  # all of it again

    assert Sample.objects.filter(stage=stage).count() == 3 * 96
    assert Sample.objects.filter(stage=stage, step=2).count() == 96
    sample = Sample.objects.get(stage=stage, step=3, group=5, index=0)
    assert sample.run_id == stage.run_id
    assert sample.completion == "<think>add 0\ufffd wait, recheck</think><answer>8</answer>"
    assert sample.rewards == {"accuracy": 1.0, "format": 0.5}
    assert (sample.reward, sample.advantage, sample.length_tokens) == (1.5, -0.25, 20)
    assert sample.reflection_phrases == ["wait", "recheck"] and sample.reflection_count == 2
    assert sample.judge == {"prompt": "judge?", "raw": "yes"}
    assert (sample.example_key, sample.probe, sample.verdict) == ("ex-5", False, "")
    assert sample.created_at is not None
