"""The worker's own kind -> runner table, held against the registry when a worker starts."""

from __future__ import annotations

import pytest

from r1web.runs.registry import STAGE_KINDS
from workers import runner


def test_every_registered_stage_kind_has_exactly_one_runner():
    runner.check_runners()
    assert set(runner.RUNNERS) == set(STAGE_KINDS)


def test_a_worker_whose_table_lacks_a_kind_refuses_to_start(monkeypatch):
    from workers.tasks import _check_runners

    monkeypatch.delitem(runner.RUNNERS, "mix")
    with pytest.raises(SystemExit, match="stage kinds without a runner: mix;"):
        _check_runners()


@pytest.mark.django_db
def test_a_stage_whose_stored_parameters_do_not_fit_its_type_fails_naming_the_field(make_run):
    stage = make_run(params={"reward_funcs": ["accuracy"], "probe_every": -1})
    runner.execute(stage)
    stage.refresh_from_db()
    assert stage.status == "failed"
    assert "probe_every: Input should be greater than or equal to 0" in stage.error
