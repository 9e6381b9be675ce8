"""How a multi-process stage is launched (the run itself: tests/integration)."""

from __future__ import annotations

import pytest

from r1domain.processes import accelerate_configs
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
