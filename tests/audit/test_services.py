"""Every write a person makes leaves one audit row naming them, the action and its
target; a refused write leaves none."""

from __future__ import annotations

import pytest

from r1web.audit.models import AuditEvent
from r1web.audit.services import audit_record
from r1web.curation.models import CurationItem
from r1web.curation.services import (
    CurationError,
    curation_accept,
    curation_claim_next,
    curation_freeze,
    curation_reject,
    curation_save,
)
from r1web.runs.recipes import launch
from r1web.runs.services import RunError, run_cancel, run_resume
from r1web.traces.models import Flag, Sample
from r1web.traces.services import sample_flag, sample_unflag

pytestmark = pytest.mark.django_db


def events() -> list[tuple[str, str, str]]:
    """(who, action, target) oldest first."""
    return [(e.actor_name, e.action, e.target_label) for e in AuditEvent.objects.order_by("id")]


def last() -> AuditEvent:
    return AuditEvent.objects.first()  # newest first


def test_launching_a_run_records_who_launched_which_run(model_dir, alice):
    run = launch("r1-zero", {"model": "base"}, user=alice)
    event = last()
    assert (event.actor, event.action, event.target) == (alice, "run.launch", run)
    assert event.detail["recipe"] == "r1-zero"


def test_a_launch_from_the_command_line_is_recorded_with_no_person(model_dir):
    launch("r1-zero", {"model": "base"})
    assert (last().actor, last().actor_name, last().action) == (None, "", "run.launch")


def test_a_refused_launch_records_nothing(model_dir, alice):
    with pytest.raises(RunError):
        launch("r1-zero", {"model": "missing"}, user=alice)
    run = launch("r1-zero", {"model": "base"}, user=alice)
    assert [(e.action, e.target) for e in AuditEvent.objects.all()] == [("run.launch", run)]


def test_cancelling_and_resuming_record_the_acting_operator(make_run, alice):
    stage = make_run(status="queued")
    run_cancel(run=stage.run, acting_user=alice)
    stage.run.refresh_from_db()
    run_resume(run=stage.run, acting_user=alice)
    assert [(who, action) for who, action, _ in events()] == [
        ("alice", "run.cancel"), ("alice", "run.resume")
    ]
    assert last().target == stage.run and last().detail == {"stage": stage.name}


def test_cancelling_a_finished_run_is_refused_and_records_nothing(make_run, alice):
    finished, queued = make_run(status="succeeded").run, make_run(status="queued").run
    with pytest.raises(RunError):
        run_cancel(run=finished, acting_user=alice)
    run_cancel(run=queued, acting_user=alice)
    assert [(e.action, e.target) for e in AuditEvent.objects.all()] == [("run.cancel", queued)]


def test_flagging_and_unflagging_a_sample_are_recorded_against_the_sample(
    make_run, make_samples, bob
):
    make_samples(make_run(), steps=1, groups=1, per_group=1)
    sample = Sample.objects.get()
    flag = sample_flag(sample=sample, user=bob, label="aha")
    sample_unflag(flag=flag, user=bob)
    assert not Flag.objects.exists()
    assert [(e.action, e.target, e.detail) for e in AuditEvent.objects.order_by("id")] == [
        ("sample.flag", sample, {"label": "aha"}), ("sample.unflag", sample, {"label": "aha"})
    ]


def test_promoting_samples_records_the_dataset_and_how_many_were_added(queue, bob):
    event = last()
    assert (event.actor, event.action, event.target) == (bob, "curation.promote", queue)
    assert event.detail == {"added": 2, "source": "promoted"}


def test_editing_accepting_rejecting_and_freezing_are_each_recorded(queue, bob):
    first = curation_claim_next(dataset=queue, user=bob)
    curation_save(item=first, user=bob, reasoning="because", summary="7")
    curation_accept(item=first, user=bob, reasoning="because", summary="7")
    second = curation_claim_next(dataset=queue, user=bob)
    curation_reject(item=second, user=bob, reason="unreadable")
    version = curation_freeze(dataset=queue, user=bob)
    recorded = [(e.actor_name, e.action, e.target) for e in AuditEvent.objects.order_by("id")]
    assert recorded[1:] == [
        ("bob", "curation.edit", first), ("bob", "curation.accept", first),
        ("bob", "curation.reject", second), ("bob", "curation.freeze", version),
    ]
    assert last().detail == {"examples": 1}


def test_a_refused_curation_write_records_nothing(queue, bob, alice):
    item = curation_claim_next(dataset=queue, user=bob)
    before = AuditEvent.objects.count()
    with pytest.raises(CurationError):
        curation_save(item=item, user=alice, reasoning="x", summary="y")  # bob holds it
    with pytest.raises(CurationError):
        curation_reject(item=item, user=bob, reason=" ")
    curation_save(item=item, user=bob, reasoning="x", summary="y")
    assert AuditEvent.objects.count() == before + 1
    assert (last().actor, last().action) == (bob, "curation.edit")


def test_the_actor_name_outlives_the_account(queue, bob):
    bob.delete()
    event = last()
    assert (event.actor, event.actor_name) == (None, "bob")


def test_an_unknown_action_or_unsaved_target_is_a_programming_error(queue, bob):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record(actor=bob, action="run.explode", target=queue)
    with pytest.raises(ValueError, match="saved"):
        audit_record(actor=bob, action="run.launch", target=CurationItem())
