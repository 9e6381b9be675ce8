"""The demo's defaults (torch-free, so the web app can offer them): the R1-Zero demo run's
GRPO config by TRL field names, its evaluation settings and its synthetic problems.

``workers.stages.demo`` runs the demo from the command line with these settings.
"""

from __future__ import annotations

from typing import Any

from workers.domain.synthetic import generate

DEMO_REWARD_FUNCS = ["accuracy", "format"]

# TRL GRPOConfig field names; see grpo.py for why steps_per_generation/num_iterations
# stay at 1. 1e-3 made one seed collapse into max-length gibberish; 5e-4 did not.
DEMO_GRPO_CONFIG: dict[str, Any] = {
    "max_steps": 200,
    "per_device_train_batch_size": 32,
    "num_generations": 8,
    "gradient_accumulation_steps": 1,
    "steps_per_generation": 1,
    "num_iterations": 1,
    "learning_rate": 5e-4,
    "lr_scheduler_type": "constant",
    "warmup_steps": 0,
    "max_completion_length": 64,
    "temperature": 1.0,
    "beta": 0.0,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 100,
    "save_total_limit": 2,
    "seed": 0,
}

DEMO_EVAL: dict[str, Any] = {"problems": 100, "k": 8, "max_new_tokens": 64, "temperature": 1.0}
DEMO_TRAIN_PROBLEMS = 2000


def demo_examples(seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train, held-out test) synthetic problems for the demo."""
    train = generate(DEMO_TRAIN_PROBLEMS, split="train", seed=seed)
    test = generate(DEMO_EVAL["problems"], split="test", seed=seed)
    return train, test
