from __future__ import annotations

import json

from django import forms

from r1web.datasets.files import FORMATS
from r1web.runs.models import Checkpoint


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="JSONL (GSM8K or prompt/answer lines, or an export) or Parquet"
    )
    name = forms.SlugField(max_length=100, help_text="the dataset; a new version if it exists")
    format = forms.ChoiceField(
        choices=[("auto", "detect")] + [(f, f) for f in FORMATS if f != "hf"]
    )
    split = forms.ChoiceField(choices=[("train", "train"), ("test", "test")], initial="train")


class DiffForm(forms.Form):
    old = forms.IntegerField(min_value=1)
    new = forms.IntegerField(min_value=1)


class ColdStartSFTForm(forms.Form):
    """Launch the cold-start SFT recipe on one dataset version."""

    model = forms.ModelChoiceField(
        queryset=Checkpoint.objects.all(), required=False, empty_label="the tiny base model"
    )
    max_steps = forms.IntegerField(min_value=1, max_value=100000, initial=20)
    learning_rate = forms.FloatField(min_value=0, initial=5e-4)
    trl_config = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='more SFTConfig fields by their TRL names, as JSON, e.g. {"eval_steps": 5}',
    )
    name = forms.CharField(max_length=200, required=False)

    def clean_trl_config(self) -> dict:
        text = self.cleaned_data["trl_config"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("give a JSON object of SFTConfig fields")
        return value
