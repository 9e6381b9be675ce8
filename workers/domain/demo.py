"""The demo's defaults (torch-free, so the web app can offer them): the R1-Zero demo run's
GRPO config by TRL field names, its evaluation settings and its problems (repeated
addition, ``aha_tasks``).

``workers.stages.demo`` runs the demo from the command line with these settings, and
``bench/aha.py`` across seeds, with the effective-check share and the curves' shape.
"""

from __future__ import annotations

from typing import Any

from workers.domain.aha_tasks import generate_repeat

DEMO_REWARD_FUNCS = ["accuracy", "format"]

# TRL GRPOConfig field names; see grpo.py for why steps_per_generation/num_iterations
# stay at 1. Chosen by measurement (bench/aha.py, seed 1, the hardest of 0-2):
# learning_rate 1e-4 took pass@1 0.23 -> 0.80; 2e-4 only to 0.66 (accuracy fell late);
# 5e-4 collapsed it to one constant answer, and so did temperature 1.25 (the checks
# turned noisy and stopped paying). 96 tokens leave room for a guess, a five-step
# check and the answer.
DEMO_GRPO_CONFIG: dict[str, Any] = {
    "max_steps": 200,
    "per_device_train_batch_size": 32,
    "num_generations": 8,
    "gradient_accumulation_steps": 1,
    "steps_per_generation": 1,
    "num_iterations": 1,
    "learning_rate": 1e-4,
    "lr_scheduler_type": "constant",
    "warmup_steps": 0,
    "max_completion_length": 96,
    "temperature": 1.0,
    "beta": 0.0,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 100,
    "save_total_limit": 2,
    "seed": 0,
}

DEMO_EVAL: dict[str, Any] = {"problems": 100, "k": 8, "max_new_tokens": 96, "temperature": 1.0}
DEMO_TRAIN_PROBLEMS = 2000


def demo_examples(seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train, held-out test) problems for the demo (the train split has 768 in all)."""
    train = generate_repeat(DEMO_TRAIN_PROBLEMS, split="train", seed=seed)
    test = generate_repeat(DEMO_EVAL["problems"], split="test", seed=seed)
    return train, test
