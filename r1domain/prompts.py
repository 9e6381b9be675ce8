"""The R1-Zero prompt template (DeepSeek-R1 report, table 1), fed to base models as text.

It is deliberately not a chat template: R1-Zero starts from a base model, which has none.
"""

from __future__ import annotations

R1_ZERO_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the "
    "Assistant solves it. The assistant first thinks about the reasoning process in "
    "the mind and then provides the user with the answer. The reasoning process and "
    "answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer "
    "here </answer>. User: {prompt}. Assistant:"
)


def render_r1_zero(prompt: str) -> str:
    """The full text a base model continues; a trailing '.' of the question is not doubled."""
    question = prompt.strip()
    question = question.removesuffix(".")
    return R1_ZERO_TEMPLATE.format(prompt=question)
