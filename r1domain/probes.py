"""Probe prompts: a fixed set of held-out prompts that the policy answers every N steps
of GRPO, so one prompt can be followed through training (the evolution view).

A probe round asks the current policy for one greedy completion per probe prompt (no
sampling noise, so what changes between two rounds is what training changed). Its step
is the number of optimizer steps the policy has taken: 0 is the model training started
from. Probe answers are stored as samples marked ``probe``; they feed no policy update
and no training statistic (charts, the aha finder, sample counts).

Torch-free: the web process reads the settings and the word diff from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from r1domain.base import ConfigError, SampleRecord
from r1domain.formats import CompletionFormat
from r1domain.records import build_record
from r1domain.rewards import REWARD_FUNCS

# On by default: 16 rounds over the demo's 150 steps, a few seconds in all.
DEFAULT_EVERY = 10
DEFAULT_PROMPTS = 4
MAX_PROMPTS = 64


@dataclass(frozen=True)
class ProbeSettings:
    every: int = 0  # optimizer steps between two rounds; 0: no probes
    prompts: int = 0  # how many held-out prompts

    @property
    def enabled(self) -> bool:
        return self.every > 0 and self.prompts > 0


def probe_settings(params: dict) -> ProbeSettings:
    """A stage's probe settings; a stage stored before probes existed has none."""
    return ProbeSettings(int(params.get("probe_every") or 0), int(params.get("probe_prompts") or 0))


def check_probe_params(params: dict) -> None:
    """ConfigError naming the parameter when a probe setting is not a usable count."""
    for name, high in (("probe_every", 1_000_000), ("probe_prompts", MAX_PROMPTS)):
        value = params.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise ConfigError(f"{name} must be an integer from 0 to {high}, not {value!r}")


def is_probe_step(step: int, every: int, last: int) -> bool:
    """Rounds run before training (step 0), every ``every`` steps, and after the last."""
    return every > 0 and (step % every == 0 or step == last)


def probe_records(
    *,
    step: int,
    examples: list[dict[str, Any]],
    completions: list[str],
    lengths: list[int],
    reward_funcs: list[str],
    reward_weights: list[float] | None = None,
    completion_format: CompletionFormat | None = None,
) -> list[SampleRecord]:
    """One probe sample per example (group = the probe's position in the set).

    Scored by the stage's rule rewards (reward models are not run for probes); the
    reward is their weighted sum, as GRPO weighs them.
    """
    fmt = completion_format or CompletionFormat()
    weights = reward_weights or [1.0] * len(reward_funcs)
    records = []
    for group, (example, completion, length) in enumerate(zip(examples, completions, lengths)):
        rewards = _rule_rewards(reward_funcs, example, completion, fmt)
        record = build_record(
            step=step,
            group=group,
            index=0,
            prompt=example["prompt"],
            completion=completion,
            reference=str(example["answer"]),
            task=str(example.get("task") or "math"),
            length_tokens=length,
            rewards=rewards,
            reward=sum(w * rewards[name] for w, name in zip(weights, rewards)),
            example_key=str(example.get("key") or ""),
            completion_format=fmt,
        )
        record.probe = True
        records.append(record)
    return records


def _rule_rewards(names: list[str], example: dict, completion: str, fmt: CompletionFormat):
    columns = {
        "answer": [str(example["answer"])],
        "task": [str(example.get("task") or "math")],
        "language": [str(example.get("language") or "en")],
        "completion_format": [fmt.as_column()],
    }
    return {
        name: float(REWARD_FUNCS[name]([example["prompt"]], [completion], **columns)[0])
        for name in names
        if name in REWARD_FUNCS
    }


# --- comparing two answers ------------------------------------------------------------

_WORDS = re.compile(r"\s+|[^\s]+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """``old`` -> ``new`` as (``"equal"`` | ``"delete"`` | ``"insert"``, text) pieces, word
    by word (whitespace kept), in reading order. The texts are raw: escape them to show."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            _add(pieces, "equal", "".join(a[i1:i2]))
            continue
        _add(pieces, "delete", "".join(a[i1:i2]))
        _add(pieces, "insert", "".join(b[j1:j2]))
    return pieces


def _add(pieces: list[tuple[str, str]], op: str, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1][0] == op:
        pieces[-1] = (op, pieces[-1][1] + text)
    else:
        pieces.append((op, text))
