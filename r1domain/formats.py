"""The two completion formats of the R1 pipeline, and how each is prompted and parsed.

* ``r1-zero``: the R1-Zero template fed to a base model as plain text, answered as
  ``<think>..</think> <answer>..</answer>``.
* ``cold-start``: what R1's cold-start SFT teaches (DeepSeek-R1, section 2.3.1): a plain
  ``User: ..\\nAssistant: `` prompt answered as ``|special_token|reasoning|special_token|
  summary``. Every stage after the cold start (reasoning RL, rejection sampling, SFT,
  evaluation) prompts and parses the model the way it was taught.

Rewards, records and evaluation all go through ``CompletionFormat`` so "correct" and
"format ok" mean the same thing in every stage. Plain Python: no torch, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from r1domain.coldstart import DEFAULT_TOKEN, ColdStartFormatError, parse_cold_start
from r1domain.parsing import ParsedCompletion, parse_completion
from r1domain.prompts import render_r1_zero

R1_ZERO: Final = "r1-zero"
COLD_START: Final = "cold-start"
FORMATS = (R1_ZERO, COLD_START)
COLD_START_TEMPLATE = "User: {prompt}\nAssistant: "


@dataclass(frozen=True)
class CompletionFormat:
    name: str = R1_ZERO
    special_token: str = DEFAULT_TOKEN

    def render_prompt(self, prompt: str) -> str:
        if self.name == COLD_START:
            return COLD_START_TEMPLATE.format(prompt=prompt.strip())
        return render_r1_zero(prompt)

    def parse(self, completion: str) -> ParsedCompletion:
        if self.name == COLD_START:
            return parse_cold_start_completion(completion, self.special_token)
        return parse_completion(completion)

    def as_column(self) -> str:
        """How the format travels in a TRL dataset column (reward functions read it)."""
        return f"{self.name}|{self.special_token}" if self.name == COLD_START else self.name


def get_format(name: str = R1_ZERO, special_token: str = DEFAULT_TOKEN) -> CompletionFormat:
    if name not in FORMATS:
        from r1domain.base import ConfigError

        raise ConfigError(f"unknown completion format {name!r} (known: {', '.join(FORMATS)})")
    return CompletionFormat(name, special_token or DEFAULT_TOKEN)


def from_column(value: str | None) -> CompletionFormat:
    """The inverse of ``CompletionFormat.as_column``; a missing column means R1-Zero."""
    if not value or value == R1_ZERO:
        return CompletionFormat()
    name, _, token = value.partition("|")
    return CompletionFormat(name, token or DEFAULT_TOKEN)


def parse_cold_start_completion(text: str, token: str) -> ParsedCompletion:
    try:
        reasoning, summary = parse_cold_start(text, token)
    except ColdStartFormatError:
        # Credit an answer the model gave even when it broke the layout: the summary is
        # whatever follows the last token, as in R1-Zero's "last answer block" rule.
        parts = text.split(token)
        summary = parts[-1].strip() if len(parts) > 1 else ""
        reasoning = token.join(parts[:-1]).replace(token, " ").strip()
        return ParsedCompletion(think=reasoning, answer=summary, format_ok=False)
    return ParsedCompletion(think=reasoning, answer=summary, format_ok=bool(summary))
