"""The R1-Zero demo: tiny base -> held-out eval -> GRPO -> held-out eval, on CPU.

``DEMO_GRPO_CONFIG`` and ``DEMO_EVAL`` are the defaults the web app offers for the demo
run; they are sized so eval + GRPO + eval fits in about six minutes on two CPU cores
through a worker.

    python -m workers.stages.demo --base-dir var/models/tiny-base --work-dir /tmp/r1-demo

One seed, plain stage code, no database. ``bench/aha.py`` runs the same across seeds and
adds what the demo is for: the share of effective checks among reflective samples and
the shape of the accuracy, length and reflection curves over GRPO steps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from r1domain.base import MemorySink
from r1domain.demo import (
    DEMO_EVAL,
    DEMO_GRPO_CONFIG,
    DEMO_REWARD_FUNCS,
    demo_examples,
)


def _evaluate(model_path: str, test: list[dict], seed: int) -> dict:
    from workers.stages.evaluate import evaluate

    settings = {k: v for k, v in DEMO_EVAL.items() if k != "problems"}
    return evaluate(model_path=model_path, examples=test, sink=MemorySink(), seed=seed, **settings)


def run_demo(base_dir: Path, work_dir: Path, seed: int = 0) -> dict:
    from workers.stages.grpo import run_grpo
    from workers.stages.tiny_base import build_tiny_base

    timings: dict[str, float] = {}
    started = time.perf_counter()
    if not (base_dir / "config.json").exists():
        build_tiny_base(base_dir, seed=seed)
    timings["build_base_s"] = time.perf_counter() - started
    train, test = demo_examples(seed)
    t0 = time.perf_counter()
    before = _evaluate(str(base_dir), test, seed)
    timings["eval_before_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sink = MemorySink()
    result = run_grpo(
        model_path=str(base_dir), train_examples=train, output_dir=str(work_dir / "grpo"),
        trl_config={**DEMO_GRPO_CONFIG, "seed": seed}, reward_funcs=DEMO_REWARD_FUNCS, sink=sink,
    )
    timings["grpo_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    after = _evaluate(result.checkpoint_path, test, seed)
    timings["eval_after_s"] = time.perf_counter() - t0
    timings["demo_s"] = sum(v for k, v in timings.items() if k != "build_base_s")
    return {
        "before": before, "after": after, "timings": {k: round(v, 1) for k, v in timings.items()},
        "grpo": {"steps": result.steps, "completions_per_step": result.completions_per_step,
                 "samples": len(sink.sample_records)},
    }


def _print_report(report: dict) -> None:
    before, after = report["before"], report["after"]
    for key in ("pass@1", "maj@k", "mean_length", "reflection_rate", "format_rate"):
        print(f"{key:16} before {before[key]:7.3f}   after {after[key]:7.3f}")
    print("grpo", json.dumps(report["grpo"]))
    print("timings", json.dumps(report["timings"]))
    gain = 100 * (after["pass@1"] - before["pass@1"])
    print(f"held-out pass@1 gain {gain:+.1f} points (k={before['k']})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-dir", type=Path, default=Path("var/tiny-base"))
    parser.add_argument("--work-dir", type=Path, default=Path("var/demo"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run_demo(args.base_dir, args.work_dir, args.seed)
    print(json.dumps(report, indent=2)) if args.json else _print_report(report)


if __name__ == "__main__":
    main()
