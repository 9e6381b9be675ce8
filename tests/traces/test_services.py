from __future__ import annotations

import pytest

from r1web.traces.models import Flag, Sample
from r1web.traces.services import FlagError, sample_flag, sample_unflag


@pytest.fixture
def sample(make_run, make_samples):
    make_samples(make_run(), steps=2, groups=1, per_group=1)
    return Sample.objects.get(step=2)


def test_a_flag_keeps_the_samples_run_and_step(sample, bob):
    flag = sample_flag(sample=sample, user=bob, label="reflection", note="re-checks the sum")
    assert (flag.run_id, flag.step, flag.note) == (sample.run_id, 2, "re-checks the sum")


def test_flagging_twice_updates_the_note_instead_of_duplicating(sample, bob):
    sample_flag(sample=sample, user=bob, label="aha", note="first")
    sample_flag(sample=sample, user=bob, label="aha", note="second")
    assert list(Flag.objects.values_list("note", flat=True)) == ["second"]


def test_not_reflection_replaces_the_same_persons_reflection_flag(sample, bob, alice):
    sample_flag(sample=sample, user=bob, label="reflection")
    sample_flag(sample=sample, user=alice, label="reflection")
    sample_flag(sample=sample, user=bob, label="not_reflection")
    assert sorted(Flag.objects.values_list("created_by__username", "label")) == [
        ("alice", "reflection"), ("bob", "not_reflection"),
    ]


def test_a_custom_flag_needs_a_label(sample, bob):
    with pytest.raises(FlagError, match="needs a label"):
        sample_flag(sample=sample, user=bob, label="custom", custom_label="  ")
    flag = sample_flag(sample=sample, user=bob, label="custom", custom_label="mixed language")
    assert flag.display_label() == "mixed language"


def test_an_unknown_label_is_refused(sample, bob):
    with pytest.raises(FlagError):
        sample_flag(sample=sample, user=bob, label="great")


def test_only_the_flags_author_or_an_operator_removes_it(sample, bob, alice, django_user_model):
    other = django_user_model.objects.create_user("dave")
    flag = sample_flag(sample=sample, user=bob, label="aha")
    with pytest.raises(FlagError):
        sample_unflag(flag=flag, user=other)
    sample_unflag(flag=flag, user=alice)
    assert not Flag.objects.exists()


def test_a_completion_with_a_nul_byte_is_stored_not_refused(make_run, make_samples):
    # PostgreSQL refuses NUL in text; one such completion used to fail the whole stage.
    stage = make_run()
    make_samples(stage, steps=1, groups=1, per_group=1, completion="7\x00 bad byte",
                 judge={"raw": "Verdict:\x00 correct"})
    sample = Sample.objects.get(stage=stage)
    assert sample.completion == "7\ufffd bad byte"
    assert sample.judge["raw"] == "Verdict:\ufffd correct"
