"""What r1web's recording costs on top of TRL: bare GRPOTrainer vs run_grpo.

Both sides train the same tiny base with the same GRPOConfig and seed (so they sample
the same completions). The r1web side stores every sample, metric and progress point
in an on-disk SQLite database, one executemany per generation batch, like the worker's
database sink. Runs alternate (bare, r1web, r1web, bare, ...) so drift on a shared
machine hits both sides; the last line is ``ratio <r1web seconds / bare seconds>``.

    .venv/bin/python bench/grpo_overhead.py --steps 20 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.stages.base import SampleRecord  # noqa: E402
from workers.stages.demo import DEMO_GRPO_CONFIG, DEMO_REWARD_FUNCS, demo_examples  # noqa: E402
from workers.stages.grpo import _load_tokenizer, _quiet, run_grpo, to_dataset  # noqa: E402
from workers.stages.grpo import validate_grpo_config  # noqa: E402
from workers.stages.rewards import get_reward_funcs  # noqa: E402
from workers.stages.runtime import torch_threads  # noqa: E402

SAMPLE_COLUMNS = [
    "step", "grp", "idx", "prompt", "completion", "think", "answer", "reference", "rewards",
    "reward", "advantage", "length_tokens", "correct", "format_ok", "reflection", "example_key",
]


class SqliteSink:
    """A StageSink that really stores everything, in a SQLite file on disk."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(f"CREATE TABLE sample ({', '.join(SAMPLE_COLUMNS)}, "
                        "UNIQUE (step, grp, idx))")
        self.db.execute("CREATE TABLE metric (step, name, value)")
        self.db.execute("CREATE TABLE progress (step, total)")
        self.count = 0

    def samples(self, records: list[SampleRecord]) -> None:
        rows = [self._row(r) for r in records]
        marks = ", ".join("?" * len(SAMPLE_COLUMNS))
        with self.db:
            self.db.executemany(f"INSERT OR IGNORE INTO sample VALUES ({marks})", rows)
        self.count += len(rows)

    @staticmethod
    def _row(r: SampleRecord) -> tuple:
        d = asdict(r)
        return (
            d["step"], d["group"], d["index"], d["prompt"], d["completion"], d["think"],
            d["answer"], d["reference"], json.dumps(d["rewards"]), d["reward"], d["advantage"],
            d["length_tokens"], d["correct"], d["format_ok"],
            json.dumps(d["reflection_phrases"]), d["example_key"],
        )

    def metrics(self, step: int, values: dict[str, float]) -> None:
        with self.db:
            self.db.executemany("INSERT INTO metric VALUES (?, ?, ?)",
                                [(step, k, v) for k, v in values.items()])

    def progress(self, step: int, total: int) -> None:
        with self.db:
            self.db.execute("INSERT INTO progress VALUES (?, ?)", (step, total))

    def checkpoint_saved(self, step: int, path: str) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def bare(model: str, train: list[dict], config: dict, out: Path) -> float:
    from trl import GRPOConfig, GRPOTrainer

    started = time.perf_counter()
    with torch_threads():
        trainer = GRPOTrainer(
            model=model, reward_funcs=get_reward_funcs(DEMO_REWARD_FUNCS),
            args=GRPOConfig(output_dir=str(out), **validate_grpo_config(config)),
            train_dataset=to_dataset(train), processing_class=_load_tokenizer(model),
        )
        _quiet(trainer)  # run_grpo does the same: neither side prints every log dict
        trainer.train()
        trainer.save_model(str(out))
    return time.perf_counter() - started


def recorded(model: str, train: list[dict], config: dict, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    sink = SqliteSink(out.with_suffix(".sqlite3"))
    result = run_grpo(
        model_path=model, train_examples=train, output_dir=str(out), trl_config=config,
        reward_funcs=DEMO_REWARD_FUNCS, sink=sink,
    )
    elapsed = time.perf_counter() - started
    assert sink.count == result.steps * result.completions_per_step, "samples were lost"
    return elapsed, sink.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="var/tiny-base", help="built if missing")
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
