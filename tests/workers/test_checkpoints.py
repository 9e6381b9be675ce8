"""Which checkpoints a stage deletes: never the latest one recorded."""

from __future__ import annotations

from r1domain.base import MemorySink
from r1domain.checkpoints import is_complete, prune_checkpoints


def _save(folder, step: int):
    path = folder / f"checkpoint-{step}"
    path.mkdir()
    (path / "trainer_state.json").write_text("{}")
    return path


def test_pruning_keeps_the_newest_recorded_checkpoints_and_any_not_yet_recorded(tmp_path):
    for step in (1, 2, 3, 4, 5):
        _save(tmp_path, step)
    # Checkpoint 3 was just recorded; 4 and 5 are on disk, their records still queued.
    deleted = prune_checkpoints(tmp_path / "checkpoint-3", keep=2)
    assert sorted(path.name for path in deleted) == ["checkpoint-1"]
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == ["checkpoint-2", "checkpoint-3", "checkpoint-4", "checkpoint-5"]


def test_a_sink_given_save_total_limit_prunes_after_recording(tmp_path):
    sink = MemorySink()
    for step in (1, 2, 3):
        sink.checkpoint_saved(step, str(_save(tmp_path, step)), keep=1)
    assert sink.checkpoints[-1] == (3, str(tmp_path / "checkpoint-3"))
    assert [path.name for path in tmp_path.iterdir()] == ["checkpoint-3"]


def test_pruning_leaves_other_folders_alone(tmp_path):
    _save(tmp_path, 1)
    (tmp_path / "completions").mkdir()
    _save(tmp_path, 2)
    prune_checkpoints(tmp_path / "checkpoint-2", keep=1)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint-2", "completions"]


def test_a_checkpoint_without_its_trainer_state_is_not_complete(tmp_path):
    assert is_complete(_save(tmp_path, 1))
    (tmp_path / "checkpoint-2").mkdir()
    assert not is_complete(tmp_path / "checkpoint-2")
    assert not is_complete(tmp_path / "missing")
