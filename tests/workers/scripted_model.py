"""A scripted stand-in for the policy and the judge of rejection sampling.

A model small enough for a test answers almost nothing right, so tests that must see
samples kept script what "the model" says: completions by question, verdicts by response.
"""

from __future__ import annotations

from r1domain.prompts import render_r1_zero

READABLE = "<think> 9 is bigger than 3 and 1 . </think> <answer> 9 </answer>"
WRONG = "<think> 3 is bigger than 1 . </think> <answer> 3 </answer>"


class ScriptedModel:
    """``completions``: question -> the completions of its samples, in order (cycled);
    ``verdicts``: text inside a judged response -> what the judge writes."""

    def __init__(self, completions: dict[str, list[str]], verdicts: dict[str, str] | None = None):
        self.completions = completions
        self.verdicts = verdicts or {}
        self.judge_prompts: list[str] = []

    def install(self, monkeypatch) -> ScriptedModel:
        import workers.stages.rejection as stage

        monkeypatch.setattr(stage, "load_policy", lambda path: ("model", "tokenizer"))
        monkeypatch.setattr(stage, "generate_completions", self.generate)
        return self

    def generate(self, model, tokenizer, prompts, k, *, max_new_tokens, temperature):
        texts = []
        for prompt in prompts:
            if prompt.rstrip().endswith("Verdict:"):
                self.judge_prompts.append(prompt)
                texts.append(self._verdict(prompt))
                continue
            question = next(q for q in self.completions if render_r1_zero(q) == prompt)
            script = self.completions[question]
            texts += [script[i % len(script)] for i in range(k)]
        return texts, [len(text.split()) for text in texts]

    def _verdict(self, prompt: str) -> str:
        response = prompt.split("Response:", 1)[1]
        return next((raw for key, raw in self.verdicts.items() if key in response), " maybe")
