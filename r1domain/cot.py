"""Adding a chain of thought to non-reasoning SFT data (DeepSeek-R1, section 2.3.3):
"for certain non-reasoning tasks, we call DeepSeek-V3 to generate a potential chain of
thought before answering the question by prompting". The response stays the human one;
only the reasoning before it comes from the model, and it is kept only when readable.
"""

from __future__ import annotations

from typing import Any

from r1domain.coldstart import ColdStartFormatError, readability_issues, to_cold_start

COT_INSTRUCTION = "Think about what the user asks before answering. "


def cot_prompt(prompt: str) -> str:
    return COT_INSTRUCTION + prompt


def with_cot(example: dict[str, Any], reasoning: str, token: str) -> tuple[dict, str]:
    """The example with ``token reasoning token response`` as its completion, or as it
    was (and why) when the reasoning is unreadable or cannot be written in the format."""
    response = str(example.get("completion") or "")
    issues = [i for i in readability_issues(reasoning, response) if i.code != "no_summary"]
    if not response or issues:
        return example, issues[0].code if issues else "no_response"
    try:
        completion = to_cold_start(reasoning, response, token)
    except ColdStartFormatError:
        return example, "bad_format"
    provenance = {**(example.get("provenance") or {}), "cot": "model"}
    return {**example, "completion": completion, "provenance": provenance}, "added"
