"""Launch-time checks of a GRPO stage's reward models that need the database.

Each ``RewardModelRef`` (``r1domain.stage_params``) names an earlier stage of the same run
(its key, resolved when the stage runs) or a reward-model checkpoint (its id), checked
here; the worker resolves and loads them (``workers.runners.reward_model``).
"""

from __future__ import annotations

from r1domain.base import ConfigError
from r1domain.stage_params import RewardModelRef
from r1web.runs.models import Checkpoint


def check_reward_models(refs: list[RewardModelRef]) -> None:
    """Raises ``ConfigError`` for the first checkpoint id that is not a reward model."""
    for ref in refs:
        if isinstance(ref.model, str):
            continue
        role = Checkpoint.objects.filter(pk=ref.model).values_list("role", flat=True).first()
        if role is None:
            raise ConfigError(f"reward model {ref.model} does not exist")
        if role != Checkpoint.Role.REWARD_MODEL:
            raise ConfigError(f"checkpoint {ref.model} is not a reward model")
