"""Every completion TRL's ``GRPOTrainer`` samples, read where TRL itself keeps them.

After scoring a generation batch, ``GRPOTrainer._generate_and_score_completions``
appends the batch, gathered from every process, to ``trainer._logs``: ``prompt``,
``completion``, ``rewards[<function name>]`` (NaN where a function did not score) and
``advantages``. Those deques hold only the latest generation batch, and TRL reads them
only when it logs (``log_completions``), so with ``logging_steps`` above 1 most batches
are never seen there. ``GrpoCapture`` wraps that method on the trainer instance and
reads the batch right after each call instead: every completion of every training step,
whatever ``logging_steps`` is, exactly as the policy update used it.

The wrapper runs on every process, since the token counts it gathers (the only thing
``_logs`` lacks) need every process in the same collective; only the main process
emits. Completions are numbered like r1web's own stages: ``step`` is the optimizer step
the batch feeds (``global_step + 1``), ``group`` the prompt's place in that step's
batches, ``index`` the completion's place in its group.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

log = logging.getLogger("r1web_client")

REFERENCE_COLUMNS = ("answer", "solution", "ground_truth", "reference")


def is_grpo_trainer(trainer: Any) -> bool:
    return any(cls.__name__ == "GRPOTrainer" for cls in type(trainer).__mro__)


def message_text(value: Any) -> str:
    """A prompt or completion as text: chat messages become ``role: content`` lines
    (a lone message, its bare content)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        turns = [m for m in value if isinstance(m, dict)]
        texts = [(str(m.get("role", "")), _content(m.get("content"))) for m in turns]
        if len(texts) == 1:
            return texts[0][1]
        return "\n".join(f"{role}: {content}" for role, content in texts)
    return "" if value is None else str(value)


def _content(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


class GrpoCapture:
    """Wraps ``trainer._generate_and_score_completions``; ``emit`` gets each training
    batch's completions as the API's sample dicts (on the main process only), and
    ``stop_flag`` (main process) is shared with every process at each generation."""

    def __init__(
        self,
        trainer: Any,
        emit: Callable[[list[dict[str, Any]]], None] | None,
        stop_flag: Callable[[], bool] = lambda: False,
        reference_column: str | None = None,
    ) -> None:
        self.trainer = trainer
        self.emit = emit
        self.stop_flag = stop_flag
        self.reference_column = reference_column
        self.stop = False  # the same on every process after each generation
        self._step = -1
        self._batches_in_step = 0
        self._failed = False
        self._original = trainer._generate_and_score_completions

        def generate_and_score(inputs):
            output = self._original(inputs)
            if trainer.model.training:
                self._after(inputs, output)
            return output

        trainer._generate_and_score_completions = generate_and_score

    def remove(self) -> None:
        if self.trainer.__dict__.get("_generate_and_score_completions") is not None:
            del self.trainer._generate_and_score_completions

    def _after(self, inputs: list[dict], output: dict) -> None:
        accelerator = self.trainer.accelerator
        lengths = output["completion_mask"].sum(dim=1).tolist()
        column = self.reference_column or _reference_column(inputs)
        references = [str(x.get(column, "")) if column else "" for x in inputs]
        if accelerator.num_processes > 1:
            from accelerate.utils import broadcast_object_list, gather_object

            lengths = gather_object(lengths)
            references = gather_object(references)
            flag = [self.stop_flag() if accelerator.is_main_process else False]
            self.stop = bool(broadcast_object_list(flag, from_process=0)[0])
        else:
            self.stop = self.stop_flag()
        if not accelerator.is_main_process or self.emit is None or self._failed:
            return
        try:  # a surprise in TRL's internals must never stop training
            self.emit(self._samples(lengths, references))
        except Exception:
            self._failed = True
            log.exception("r1web: reading GRPOTrainer's completions failed; metrics still go")

    def _samples(self, lengths: list[int], references: list[str]) -> list[dict[str, Any]]:
        logs = self.trainer._logs
        n = len(lengths)
        prompts = list(logs["prompt"])[-n:]
        completions = list(logs["completion"])[-n:]
        advantages = list(logs["advantages"])[-n:]
        rewards = {name: list(values)[-n:] for name, values in logs["rewards"].items()}
        weights = dict(
            zip(self.trainer.reward_func_names, self.trainer.reward_weights.tolist(), strict=False)
        )
        g = self.trainer.num_generations
        step, offset = self._position(n // g)
        samples = []
        for i in range(n):
            scores = {name: float(v[i]) for name, v in rewards.items() if math.isfinite(v[i])}
            advantage = float(advantages[i])
            samples.append(
                {
                    "step": step,
                    "group": offset + i // g,
                    "index": i % g,
                    "prompt": message_text(prompts[i]),
                    "completion": message_text(completions[i]),
                    "rewards": scores,
                    "reward": sum(weights.get(name, 1.0) * v for name, v in scores.items()),
                    "advantage": advantage if math.isfinite(advantage) else 0.0,
                    "length_tokens": int(lengths[i]),
                    "reference": references[i] if i < len(references) else "",
                }
            )
        return samples

    def _position(self, groups: int) -> tuple[int, int]:
        step = self.trainer.state.global_step + 1  # the optimizer step this batch feeds
        if step != self._step:
            self._step, self._batches_in_step = step, 0
        offset = self._batches_in_step * groups
        self._batches_in_step += 1
        return step, offset


def _reference_column(inputs: list[dict]) -> str | None:
    first = inputs[0] if inputs else {}
    return next((c for c in REFERENCE_COLUMNS if c in first), None)
