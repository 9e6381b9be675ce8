"""How a multi-process stage is launched (the run itself: tests/integration)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from r1domain.processes import accelerate_configs
from r1domain.stage_params import GRPOParams
from workers.distributed import launch_command


def test_without_a_named_config_the_processes_start_under_torchrun_on_this_machine():
    command = launch_command(2, port=29555)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert "--multi_gpu" in command
    assert command[command.index("--num_processes") + 1] == "2"
    assert command[command.index("--main_process_port") + 1] == "29555"
    assert command[-2:] == ["-m", "workers.distributed"]


def test_a_named_config_is_one_of_the_shipped_files_never_a_path():
    assert {"multi_gpu", "deepspeed_zero2", "deepspeed_zero3"} <= set(accelerate_configs())
    command = launch_command(4, "deepspeed_zero2")
    config = command[command.index("--config_file") + 1]
    assert config.endswith("workers/accelerate/deepspeed_zero2.yaml")
    with pytest.raises(ValueError, match="unknown accelerate config"):
        launch_command(2, "../../etc/passwd")


@pytest.mark.django_db
def test_a_leaving_worker_stops_a_multi_process_stage_and_hands_it_back(
    make_run, leaving, monkeypatch, settings, tmp_path
):
    from workers import distributed, shutdown

    settings.RUNS_DIR = tmp_path
    pid_file = tmp_path / "pid"
    # Stands in for accelerate launch: a process group that trains until it is killed.
    monkeypatch.setattr(distributed, "launch_command", lambda processes, config="": [
        "sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"])
    stage = make_run(status="running", attempt=1)

    def sigterm_once_it_trains() -> None:
        while not pid_file.exists():
            time.sleep(0.05)
        leaving.begin(60)

    threading.Thread(target=sigterm_once_it_trains, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(shutdown.StageHandedBack):
        distributed.run_distributed(stage, GRPOParams(num_processes=2))
    assert time.monotonic() - started < 20
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # its whole group is gone
