"""Trained reward models as GRPO reward functions (R1's second RL stage).

DeepSeek-R1 scores helpfulness on the final summary only, so the reasoning is left
alone, and harmlessness on the whole response, reasoning included. ``reward_model_func``
wraps a reward-model checkpoint (``workers.stages.reward_model``) in TRL's
reward-function shape for either scope; its ``__name__`` is the name TRL logs it under
(``rewards/<name>/mean``) and the sample recorder stores per-sample rewards by.
"""

from __future__ import annotations

from typing import Any

import torch

from r1domain.base import ConfigError
from r1domain.formats import CompletionFormat
from r1domain.preferences import REWARD_MODEL_SCOPES as SCOPES
from r1domain.rewards import _text

BATCH = 32


class RewardModelFunc:
    """Scores ``prompt + text`` with a sequence classifier loaded once, as the
    probability (sigmoid of the score) that the text is the preferred one.

    The text is the parsed final answer (scope ``summary``) or the whole completion
    (scope ``response``). The tokenizer's EOS is appended as ``RewardTrainer`` did in
    training, so the score is read at the same kind of position it learned on.
    """

    def __init__(self, path: str, *, scope: str, name: str, fmt: CompletionFormat) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.__name__ = name
        self.scope, self.fmt = scope, fmt
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # Right padding as in training: positions then match what the model learned on.
        self.tokenizer.padding_side = "right"
        self.model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()

    def text(self, completion: Any) -> str:
        text = _text(completion)
        return self.fmt.parse(text).answer if self.scope == "summary" else text

    def __call__(self, prompts: list, completions: list, **kwargs: Any) -> list[float]:
        eos = self.tokenizer.eos_token or ""
        texts = [f"{_text(p)}{self.text(c)}{eos}" for p, c in zip(prompts, completions)]
        return [score for i in range(0, len(texts), BATCH)
                for score in self._scores(texts[i : i + BATCH])]

    def _scores(self, texts: list[str]) -> list[float]:
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True)
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        with torch.inference_mode():
            logits = self.model(**inputs).logits[:, 0]
        # A Bradley-Terry score's sigmoid is the probability the text would be preferred:
        # bounded in [0, 1] like the rule rewards, so an unbounded score (a few units on
        # degenerate text the model never saw) cannot outweigh being right.
        return [float(x) for x in torch.sigmoid(logits.float()).cpu()]


def reward_model_func(
    path: str, *, scope: str, name: str, completion_format: CompletionFormat | None = None
) -> RewardModelFunc:
    """A reward function ``f(prompts, completions, **kwargs) -> list[float]`` over the
    reward model at ``path``; ``prompts`` are the rendered prompts GRPO feeds the policy."""
    if scope not in SCOPES:
        raise ConfigError(f"reward model scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if not name:
        raise ConfigError("a reward model needs a name to be logged under")
    fmt = completion_format or CompletionFormat()
    return RewardModelFunc(path, scope=scope, name=name, fmt=fmt)
