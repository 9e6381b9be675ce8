"""The new-run form. TRL fields are checked by the recipe, not here."""

from __future__ import annotations

import json

from django import forms

from r1web.runs.recipes import R1ZeroArgs


def parse_trl_config(text: str) -> dict:
    """A JSON object, or ``key=value`` lines (values read as JSON when they parse)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg} (line {exc.lineno})")
        if not isinstance(value, dict):
            raise forms.ValidationError("the JSON must be an object of GRPOConfig fields")
        return value
    config = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"line {number}: expected key=value, got {line!r}")
        config[key.strip()] = _value(raw.strip())
    return config


def _value(raw: str):
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


class NewRunForm(forms.Form):
    recipe = forms.ChoiceField(choices=[("r1-zero", "R1-Zero (GRPO from the base model)")])
    name = forms.CharField(required=False, max_length=200)
    model = forms.CharField(
        required=False, max_length=500, help_text="A model directory; blank = the demo tiny base."
    )
    dataset = forms.CharField(
        required=False, max_length=200, help_text="A dataset name; blank = the demo synthetic tasks."
    )
    max_steps = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
    trl_config = forms.CharField(
        required=False,
        label="TRL GRPOConfig",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "learning_rate=1e-5\nnum_generations=4"}),
        help_text="JSON object or key=value lines, by GRPOConfig's field names.",
    )

    def clean_trl_config(self) -> dict:
        return parse_trl_config(self.cleaned_data["trl_config"])

    def args(self) -> R1ZeroArgs:
        data = self.cleaned_data
        return R1ZeroArgs(
            model=data["model"].strip(),
            dataset=data["dataset"].strip(),
            max_steps=data["max_steps"],
            trl_config=data["trl_config"],
            name=data["name"].strip(),
        )
