"""Each computing process on a host takes its share of the cores, and the shares follow
as stages start and finish (two stages spinning on every core slowed each other 7x)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from workers.stages import runtime
from workers.stages.runtime import HostShare, rebalance, torch_threads


@pytest.fixture
def trainers(tmp_path, monkeypatch):
    monkeypatch.setenv("R1WEB_TRAINERS_DIR", str(tmp_path))
    monkeypatch.delenv("R1WEB_TORCH_THREADS", raising=False)
    monkeypatch.setattr(runtime, "host_cores", lambda: 4)
    return tmp_path


def test_two_processes_split_the_cores_and_one_gets_them_all_back(trainers):
    with HostShare(trainers, cores=4) as first:
        assert first.threads() == 4
        with HostShare(trainers, cores=4) as second:
            assert (first.threads(), second.threads()) == (2, 2)
        assert first.threads() == 4


def test_a_killed_process_does_not_keep_its_share(trainers):
    code = (
        "import sys, time; from pathlib import Path; from workers.stages.runtime import HostShare\n"
        "share = HostShare(Path(sys.argv[1]), cores=4).__enter__(); print('in', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(trainers)], stdout=subprocess.PIPE,
                             cwd=os.getcwd())
    assert child.stdout.readline().strip() == b"in"
    with HostShare(trainers, cores=4) as mine:
        assert mine.threads() == 2
        child.send_signal(signal.SIGKILL)  # like an OOM kill: no clean-up runs
        child.wait(timeout=10)
        assert mine.threads() == 4
    assert list(trainers.iterdir()) == []  # the leftover was removed


def test_a_running_stage_shrinks_when_another_starts_and_grows_back(trainers):
    with torch_threads() as count:
        assert count == torch.get_num_threads() == 4
        with HostShare(trainers, cores=4):
            assert rebalance() == torch.get_num_threads() == 2
        assert rebalance() == torch.get_num_threads() == 4


def test_an_exact_thread_count_is_kept(trainers):
    previous = torch.get_num_threads()
    with torch_threads(1), HostShare(trainers, cores=4):
        assert rebalance() == torch.get_num_threads() == 1
    assert torch.get_num_threads() == previous
    assert list(trainers.iterdir()) == []

