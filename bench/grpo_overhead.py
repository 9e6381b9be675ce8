"""What r1web's recording costs on top of TRL: bare GRPOTrainer vs run_grpo.

Both sides train the same tiny base with the same GRPOConfig and seed (so they sample
the same completions). The r1web side runs the stage as a worker does: every sample,
metric, heartbeat and progress point goes through ``workers.recording.DatabaseSink``
into the database the settings name (``DATABASE_URL`` for PostgreSQL). Runs alternate (bare, r1web, r1web, bare, ...) so drift on a shared
machine hits both sides; the last line is ``ratio <r1web seconds / bare seconds>``.

    .venv/bin/python bench/grpo_overhead.py --steps 20 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r1domain.demo import DEMO_GRPO_CONFIG, DEMO_REWARD_FUNCS, demo_examples
from r1domain.rewards import get_reward_funcs
from workers.stages.grpo import (
    _load_tokenizer,
    _quiet,
    run_grpo,
    to_dataset,
    validate_grpo_config,
)
from workers.stages.runtime import torch_threads
from workers.stages.trl_config import build_stage_config


def database_sink():
    """r1web's own sink (``workers.recording.DatabaseSink``) over a fresh running stage,
    writing to whatever database the settings name: SQLite by default, PostgreSQL with
    ``DATABASE_URL``. This is exactly what a worker does while it trains."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")
    django.setup()
    from django.core.management import call_command

    from r1web.runs.models import Recipe, Run, Stage, StageKind
    from workers.recording import DatabaseSink

    call_command("migrate", verbosity=0)
    run = Run.objects.create(name="bench: grpo overhead", recipe=Recipe.R1_ZERO, status="running")
    stage = Stage.objects.create(run=run, position=0, name="GRPO", kind=StageKind.GRPO,
                                 status="running")
    return DatabaseSink(stage)


def bare(model: str, train: list[dict], config: dict, out: Path) -> float:
    from trl import GRPOConfig, GRPOTrainer

    started = time.perf_counter()
    with torch_threads():
        trainer = GRPOTrainer(
            model=model, reward_funcs=get_reward_funcs(DEMO_REWARD_FUNCS),
            args=build_stage_config(GRPOConfig, validate_grpo_config(config), str(out)),
            train_dataset=to_dataset(train), processing_class=_load_tokenizer(model),
        )
        _quiet(trainer)  # run_grpo does the same: neither side prints every log dict
        trainer.train()
        trainer.save_model(str(out))
    return time.perf_counter() - started


def recorded(model: str, train: list[dict], config: dict, out: Path) -> tuple[float, int]:
    sink = database_sink()
    started = time.perf_counter()
    with sink:  # the clock stops after the last queued write is stored
        result = run_grpo(
            model_path=model, train_examples=train, output_dir=str(out), trl_config=config,
            reward_funcs=DEMO_REWARD_FUNCS, sink=sink,
        )
    elapsed = time.perf_counter() - started
    stored = sink.stage.samples.count()
    assert stored == result.steps * result.completions_per_step, "samples were lost"
    return elapsed, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="var/models/tiny-base", help="built if missing")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not (Path(args.model) / "config.json").exists():
        from workers.stages.tiny_base import build_tiny_base

        build_tiny_base(args.model)
    config = {**DEMO_GRPO_CONFIG, "max_steps": args.steps, "save_strategy": "no"}
    train, _ = demo_examples()
    times: dict[str, list[float]] = {"bare": [], "r1web": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            order = ("bare", "r1web") if i % 2 == 0 else ("r1web", "bare")
            for side in order:
                out = Path(tmp) / f"{side}-{i}"
                if side == "bare":
                    times[side].append(bare(args.model, train, config, out))
                    print(f"run {i} bare   {times[side][-1]:7.2f} s", flush=True)
                else:
                    seconds, count = recorded(args.model, train, config, out)
                    times[side].append(seconds)
                    print(f"run {i} r1web  {seconds:7.2f} s  ({count} samples stored)", flush=True)
    total_bare, total_r1web = sum(times["bare"]), sum(times["r1web"])
    print(f"bare  total {total_bare:.2f} s over {args.repeats} runs of {args.steps} steps")
    print(f"r1web total {total_r1web:.2f} s over {args.repeats} runs of {args.steps} steps")
    print(f"ratio {total_r1web / total_bare:.3f}")


if __name__ == "__main__":
    main()
