"""The demo's defaults (torch-free, so the web app can offer them): the R1-Zero demo run's
GRPO config by TRL field names, its evaluation settings and its problems (repeated
addition, ``aha_tasks``).

``workers.stages.demo`` runs the demo from the command line with these settings, and
``bench/aha.py`` across seeds, with the effective-check share and the curves' shape.
"""

from __future__ import annotations

from typing import Any

from r1domain.aha_tasks import generate_repeat

DEMO_REWARD_FUNCS = ["accuracy", "format"]

# TRL GRPOConfig field names; see grpo.py for why steps_per_generation/num_iterations
# stay at 1. Chosen by measurement (bench/aha.py, seeds 0-2):
# - temperature 0.7 (open-r1's GRPO recipes use it too), for training and evaluation. At
#   1.0 a base's step-by-step check is sampled with a slip somewhere in its ~50 tokens
#   often enough that whether checks paid hung on how sharply the base happened to learn
#   them: a base whose checks were right 44% of the time at 1.0 (seed 1, on a 2-core
#   machine) was right 55% at 0.7, and GRPO took it from 0.15 to 0.88 pass@1. 1.25 made
#   the checks noisy and GRPO dropped them.
# - learning_rate 1e-4, decaying linearly (TRL's default schedule): held constant,
#   accuracy fell late on seed 0 (0.95 at step 80, 0.81 at the end); 2e-4 reached 0.66
#   with accuracy falling late too; 5e-4 collapsed to one constant answer.
# - 150 steps: length and reflection level off by step 30, accuracy by 90-120; eval + GRPO +
#   eval then fits six minutes on a slow 2-core machine through a worker.
# - 96 tokens leave room for a guess, a five-step check and the answer.
DEMO_GRPO_CONFIG: dict[str, Any] = {
    "max_steps": 150,
    "per_device_train_batch_size": 32,
    "num_generations": 8,
    "gradient_accumulation_steps": 1,
    "steps_per_generation": 1,
    "num_iterations": 1,
    "learning_rate": 1e-4,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0,
    "max_completion_length": 96,
    "temperature": 0.7,
    "beta": 0.0,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 50,
    "save_total_limit": 2,
    "seed": 0,
}

DEMO_EVAL: dict[str, Any] = {"problems": 100, "k": 8, "max_new_tokens": 96, "temperature": 0.7}
DEMO_TRAIN_PROBLEMS = 2000


def demo_examples(seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train, held-out test) problems for the demo (the train split has 768 in all)."""
    train = generate_repeat(DEMO_TRAIN_PROBLEMS, split="train", seed=seed)
    test = generate_repeat(DEMO_EVAL["problems"], split="test", seed=seed)
    return train, test
