from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from r1web.curation.models import CurationEdit, CurationItem, ItemStatus
from r1web.curation.services import (
    CurationError,
    candidates_promote,
    curation_accept,
    curation_claim_next,
    curation_freeze,
    curation_reject,
    curation_save,
)
from r1web.datasets.models import Example
from r1web.runs.services import checkpoint_record
from r1web.traces.models import Sample


def test_promotion_records_where_each_candidate_came_from(queue):
    item = CurationItem.objects.filter(dataset=queue).first()
    sample = item.sample
    assert item.provenance["run_id"] == sample.run_id
    assert item.provenance["stage_id"] == sample.stage_id
    assert item.provenance["step"] == sample.step
    assert item.provenance["sample_id"] == sample.pk
    # think/answer is converted for editing
    assert (item.reasoning, item.summary) == (sample.think, sample.answer)


def test_promoting_the_same_samples_twice_adds_nothing(queue, bob):
    assert (
        candidates_promote(samples=Sample.objects.filter(correct=True), dataset=queue, user=bob)
        == 0
    )
    assert CurationItem.objects.filter(dataset=queue).count() == 4


def test_provenance_names_the_checkpoint_the_sample_came_from(make_run, make_samples, bob):
    from r1web.curation.services import curation_dataset_get_or_create

    stage = make_run(name="zero")
    make_samples(stage, steps=2, groups=1, per_group=1)
    checkpoint_record(stage_pk=stage.pk, step=1, path="/tmp/ckpt-1")
    dataset = curation_dataset_get_or_create(name="cs", user=bob)
    candidates_promote(samples=Sample.objects.filter(step=2), dataset=dataset, user=bob)
    item = CurationItem.objects.get(dataset=dataset)
    assert item.provenance["trained_checkpoint"].endswith("step 1")


def test_a_grpo_sample_is_attributed_to_the_policy_at_its_step_not_the_base(
    make_run, make_samples, bob
):
    from r1web.curation.services import curation_dataset_get_or_create
    from r1web.runs.models import Checkpoint, Stage

    stage = make_run(name="zero")
    base = Checkpoint.objects.create(name="tiny-base", path="/models/tiny-base")
    Stage.objects.filter(pk=stage.pk).update(input_checkpoint=base)
    make_samples(stage, steps=21, groups=1, per_group=1)
    dataset = curation_dataset_get_or_create(name="cs", user=bob)
    candidates_promote(samples=Sample.objects.filter(step=21), dataset=dataset, user=bob)
    provenance = CurationItem.objects.get(dataset=dataset).provenance
    assert provenance["model"] == "zero / GRPO policy at step 21"
    assert (provenance["started_from"], provenance["started_from_checkpoint_id"]) == (
        "tiny-base", base.pk)
    assert "checkpoint_id" not in provenance and "trained_checkpoint" not in provenance


def test_two_curators_are_given_different_items(queue, bob, alice):
    first = curation_claim_next(dataset=queue, user=bob)
    second = curation_claim_next(dataset=queue, user=alice)
    assert first.pk != second.pk
    # asking again returns the item already held, not a new one
    assert curation_claim_next(dataset=queue, user=bob).pk == first.pk


def test_saving_an_item_you_do_not_hold_is_refused(queue, bob, alice):
    item = curation_claim_next(dataset=queue, user=bob)
    with pytest.raises(CurationError, match="do not hold"):
        curation_save(item=item, user=alice, reasoning="mine now", summary="7")
    item.refresh_from_db()
    assert item.reasoning != "mine now"
    assert not CurationEdit.objects.exists()


def test_an_expired_claim_can_be_taken_over_and_the_old_holder_is_refused(queue, bob, alice):
    item = curation_claim_next(dataset=queue, user=bob)
    CurationItem.objects.filter(pk=item.pk).update(
        claim_expires_at=timezone.now() - timedelta(seconds=1)
    )
    CurationItem.objects.exclude(pk=item.pk).update(status=ItemStatus.REJECTED)
    assert curation_claim_next(dataset=queue, user=alice).pk == item.pk
    with pytest.raises(CurationError):
        curation_accept(item=item, user=bob, reasoning="r", summary="7")


def test_every_edit_is_kept_in_the_history(queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    curation_save(item=item, user=bob, reasoning="first try", summary="7")
    curation_save(item=item, user=bob, reasoning="second try", summary="It is 7.")
    curation_accept(item=item, user=bob, reasoning="final", summary="The largest is 7.")
    history = list(item.edits.values_list("action", "reasoning"))
    assert history == [("edit", "first try"), ("edit", "second try"), ("accept", "final")]


def test_a_rejection_needs_a_reason(queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    with pytest.raises(CurationError, match="why"):
        curation_reject(item=item, user=bob, reason="  ")
    curation_reject(item=item, user=bob, reason="mixed languages")
    item.refresh_from_db()
    assert (item.status, item.reject_reason) == (ItemStatus.REJECTED, "mixed languages")


def test_text_containing_the_special_token_is_refused(queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    with pytest.raises(CurationError, match="special token"):
        curation_save(item=item, user=bob, reasoning="a |special_token| b", summary="7")


def test_freezing_makes_a_version_of_the_accepted_items_with_provenance(queue, bob):
    accepted = curation_claim_next(dataset=queue, user=bob)
    curation_accept(item=accepted, user=bob, reasoning="compare them", summary="7")
    rejected = curation_claim_next(dataset=queue, user=bob)
    curation_reject(item=rejected, user=bob, reason="dull")
    version = curation_freeze(dataset=queue, user=bob)
    [example] = version.examples.all()
    assert example.completion == "|special_token|compare them|special_token|7"
    assert example.provenance["sample_id"] == accepted.sample_id
    assert example.provenance["curation_item_id"] == accepted.pk
    assert example.provenance["accepted_by"] == "bob"
    # freezing again with nothing new gives the same version
    assert curation_freeze(dataset=queue, user=bob) == version
    assert Example.objects.count() == 1


def test_freezing_with_nothing_accepted_is_refused(queue, bob):
    with pytest.raises(CurationError, match="no accepted"):
        curation_freeze(dataset=queue, user=bob)


def test_a_custom_special_token_is_used_when_freezing(queue, bob):
    queue.special_token = "<SEP>"
    queue.save()
    item = curation_claim_next(dataset=queue, user=bob)
    curation_accept(item=item, user=bob, reasoning="r", summary="s")
    assert curation_freeze(dataset=queue, user=bob).examples.get().completion == "<SEP>r<SEP>s"
