"""examples/trl_grpo.py, a plain TRL GRPO script, against a running r1web (gunicorn on the
test database): every completion stored exactly once, the metrics equal TRL's own
``log_history``, and an outage mid-training costs nothing but a delay."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from transformers import TrainerCallback

from r1web.ingest.logfiles import expand, read_rollouts
from r1web.runs.models import MetricPoint, Run
from r1web.runs.rollups import SAMPLE_COUNT, SAMPLE_PREFIX
from r1web.safe_text import db_text
from r1web.traces.models import Sample

ROOT = Path(__file__).resolve().parents[2]
STEPS, BATCH, GENERATIONS = 6, 4, 2  # 4 completions (2 groups of 2) a step

pytestmark = pytest.mark.slow


def example():
    spec = importlib.util.spec_from_file_location("trl_grpo", ROOT / "examples" / "trl_grpo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_args(url: str, token: str, model, out: Path) -> list[str]:
    """The example script's command line for a tiny run; logging_steps > 1, and still
    every completion must arrive."""
    return ["--url", url, "--token", token, "--model", str(model), "--output-dir", str(out),
            "--max-steps", str(STEPS), "--batch-size", str(BATCH),
            "--num-generations", str(GENERATIONS), "--max-completion-length", "8",
            "--logging-steps", "2"]


def build(server, token, model, out: Path, *extra: str):
    module = example()
    args = module.parse_args([*example_args(server.url, token, model, out), *extra])
    return module.build_trainer(args)


def logged_points(run: Run) -> dict[tuple[int, str], float]:
    """The metric points the script logged: without r1web's own per-step statistics of
    its completions (``samples/…``), which it keeps for every run's charts."""
    points = MetricPoint.objects.filter(stage__run=run)
    assert points.filter(key=SAMPLE_COUNT).exists()
    return {(p.step, p.key): p.value for p in points.exclude(key__startswith=SAMPLE_PREFIX)}


def assert_stored_exactly(trainer, processes: int = 1) -> Run:
    run = Run.objects.get()
    assert run.status == "succeeded" and run.recipe == "external"
    positions = list(Sample.objects.filter(run=run).values_list("step", "group", "index"))
    per_step = BATCH * processes  # per_device_train_batch_size completions a process
    expected = {
        (step, i // GENERATIONS, i % GENERATIONS)
        for step in range(1, STEPS + 1)
        for i in range(per_step)
    }
    assert len(positions) == len(expected) and set(positions) == expected
    stored = logged_points(run)
    logged = {
        (entry["step"], key): value
        for entry in trainer.state.log_history
        for key, value in entry.items()
        if key != "step" and isinstance(value, int | float) and math.isfinite(value)
    }
    assert stored == logged
    return run


def test_the_example_stores_every_completion_once_and_trls_metrics(
    r1web_server, operator_token, micro_base, tmp_path
):
    trainer = build(r1web_server, operator_token, micro_base, tmp_path)
    trainer.args.log_completions = True  # TRL's own parquet log, to check against
    trainer.log_completions = True
    (tmp_path / "completions").mkdir()
    trainer.train()
    run = assert_stored_exactly(trainer)
    assert run.stages.get().kind == "grpo"
    assert run.config["reward_funcs"] == ["accuracy_reward", "format_reward"]
    # What TRL wrote to completions/*.parquet at each log is what r1web stored then.
    logged = list(read_rollouts(expand([tmp_path / "completions"], "trl"), "trl"))
    assert {row["step"] for row in logged} == {2, 4, 6}
    for row in logged:
        sample = Sample.objects.get(
            run=run,
            step=row["step"],
            prompt=row["prompt"],
            # An untrained model can emit any byte; PostgreSQL keeps NUL as U+FFFD.
            completion=db_text(row["completion"]),
            advantage=row["advantage"],
        )
        assert sample.rewards == row["rewards"]


class Outage(TrainerCallback):
    """Kills r1web after step 2 and starts it again ``seconds`` later, noting when each
    step ended."""

    def __init__(self, server, seconds: float) -> None:
        self.server, self.seconds = server, seconds
        self.down_at = self.up_at = None
        self.step_ends: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.step_ends.append(time.monotonic())
        if state.global_step == 2:
            self.server.kill()
            self.down_at = time.monotonic()
            threading.Timer(self.seconds, self._restart).start()

    def _restart(self):
        self.server.start()
        self.up_at = time.monotonic()


def test_training_goes_on_through_an_outage_and_nothing_is_missing(
    r1web_server, operator_token, micro_base, tmp_path
):
    trainer = build(r1web_server, operator_token, micro_base, tmp_path)
    # 8 s keeps the suite short; R1WEB_OUTAGE_SECONDS=30 is the acceptance check.
    outage = Outage(r1web_server, seconds=float(os.environ.get("R1WEB_OUTAGE_SECONDS", "8")))
    trainer.add_callback(outage)
    trainer.train()
    while outage.up_at is None:  # training may end first: the client waits for r1web
        time.sleep(0.5)
    assert any(outage.down_at < end < outage.up_at for end in outage.step_ends)
    assert_stored_exactly(trainer)
    assert not list(tmp_path.glob("r1web-spool-*.jsonl"))


def test_under_two_processes_only_the_main_one_sends_and_nothing_is_doubled(
    r1web_server, operator_token, micro_base, tmp_path
):
    # gloo on CPU: accelerate's multi-process launcher, the way a GPU cluster runs it
    command = [
        str(Path(sys.executable).with_name("accelerate")),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(ROOT / "examples" / "trl_grpo.py"),
        *example_args(r1web_server.url, operator_token, micro_base, tmp_path),
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((tmp_path / "trainer_state.json").read_text())
    assert_stored_exactly(SimpleNamespace(state=SimpleNamespace(**state)), processes=2)


def test_an_sft_run_logs_its_metrics_and_sampled_generations(
    r1web_server, operator_token, micro_base, tmp_path
):
    import torch
    from datasets import Dataset
    from r1web_client import R1WebCallback
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list(
        [
            {"prompt": f"Find the largest of {a} {b}", "completion": f" {max(a, b)}"}
            for a in range(8)
            for b in range(4)
        ]
    )
    callback = R1WebCallback(
        url=r1web_server.url,
        token=operator_token,
        name="sft run",
        sample_prompts=["Find the largest of 1 7", "Find the smallest of 3 5"],
        sample_every=2,
        max_new_tokens=4,
    )
    trainer = SFTTrainer(
        model=micro_base,
        train_dataset=data,
        callbacks=[callback],
        args=SFTConfig(
            output_dir=str(tmp_path),
            max_steps=4,
            per_device_train_batch_size=4,
            logging_steps=1,
            report_to="none",
            save_strategy="no",
            use_cpu=not torch.cuda.is_available(),
            bf16=False,
        ),
    )
    trainer.train()
    run = Run.objects.get()
    assert (run.name, run.stages.get().kind, run.status) == ("sft run", "sft", "succeeded")
    samples = Sample.objects.filter(run=run)
    assert sorted(samples.values_list("step", "group", "index")) == [
        (2, 0, 0),
        (2, 1, 0),
        (4, 0, 0),
        (4, 1, 0),
    ]
    assert samples.filter(prompt="Find the largest of 1 7").count() == 2
    stored = logged_points(run)
    logged = {
        (entry["step"], key): value
        for entry in trainer.state.log_history
        for key, value in entry.items()
        if key != "step" and isinstance(value, int | float) and math.isfinite(value)
    }
    assert stored == logged and logged
