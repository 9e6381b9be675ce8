"""What probe prompts cost the demo: GRPO with the demo's config, probes off and on.

Both runs train the demo's tiny base with the same config and seed (greedy probe rounds
draw nothing from the random stream, so they sample the same completions); they
alternate (off-on, on-off, ...) so drift on a shared machine hits both, and the fastest
run of each side counts. Prints the seconds per GRPO step, the
seconds per probe round, and what probes add to the demo's 200 steps (21 rounds).

    .venv/bin/python bench/probe_overhead.py --steps 20 --every 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r1domain.base import MemorySink
from r1domain.demo import DEMO_GRPO_CONFIG, DEMO_REWARD_FUNCS, demo_examples
from r1domain.probes import DEFAULT_EVERY, DEFAULT_PROMPTS
from workers.stages.grpo import run_grpo


def one_run(model: str, steps: int, every: int, prompts: int) -> tuple[float, int, float]:
    train, test = demo_examples()
    config = {**DEMO_GRPO_CONFIG, "max_steps": steps, "save_strategy": "no"}
    with tempfile.TemporaryDirectory() as out:
        started, cpu = time.perf_counter(), time.process_time()
        result = run_grpo(
            model_path=model,
            train_examples=train,
            output_dir=out,
            trl_config=config,
            reward_funcs=DEMO_REWARD_FUNCS,
            sink=MemorySink(),
            probe_examples=test[:prompts],
            probe_every=every,
        )
        print(
            f"probes every {every}: {time.perf_counter() - started:.1f} s wall, "
            f"{time.process_time() - cpu:.1f} s CPU",
            flush=True,
        )
        return time.perf_counter() - started, result.probe_rounds, result.probe_seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="var/models/tiny-base")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=DEFAULT_PROMPTS)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    off, on, rounds, probe_seconds = [], [], 0, 0.0
    for repeat in range(args.repeats):
        for probes in (False, True) if repeat % 2 == 0 else (True, False):  # off-on, on-off
            if not probes:
                off.append(one_run(args.model, args.steps, 0, 0)[0])
                continue
            seconds, n, spent = one_run(args.model, args.steps, args.every, args.prompts)
            on.append(seconds)
            rounds, probe_seconds = rounds + n, probe_seconds + spent
    # The fastest run of each side: on a shared machine the slower ones measure the others.
    per_step, per_step_on = min(off) / args.steps, min(on) / args.steps
    per_round = probe_seconds / rounds
    demo_steps = DEMO_GRPO_CONFIG["max_steps"]
    demo_rounds = demo_steps // DEFAULT_EVERY + 1
    print(f"GRPO without probes: {per_step:.3f} s/step (fastest of {[round(x) for x in off]} s)")
    print(
        f"GRPO with probes every {args.every}: {per_step_on:.3f} s/step "
        f"(fastest of {[round(x) for x in on]} s)"
    )
    print(f"probe round ({args.prompts} prompts, greedy): {per_round:.3f} s")
    print(
        f"demo: {demo_rounds} rounds add {demo_rounds * per_round:.1f} s to "
        f"{demo_steps * per_step:.0f} s of GRPO "
        f"({100 * demo_rounds * per_round / (demo_steps * per_step):.1f}%)"
    )


if __name__ == "__main__":
    main()
