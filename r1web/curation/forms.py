from __future__ import annotations

from django import forms

from r1web.curation.models import Source
from r1web.datasets.models import DatasetVersion
from r1web.runs.models import Checkpoint

DEFAULT_DATASET = "cold-start"


class PromoteForm(forms.Form):
    """What the trace browser posts: one sample, or the query string of its filter."""

    sample = forms.IntegerField(required=False, min_value=1)
    filter_query = forms.CharField(required=False)
    dataset = forms.SlugField(required=False, max_length=100)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("sample") and data.get("filter_query") is None:
            raise forms.ValidationError("promote a sample or the samples of a filter")
        data["dataset"] = data.get("dataset") or DEFAULT_DATASET
        return data


class EditForm(forms.Form):
    reasoning = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 14}))
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=1000)


class GenerateForm(forms.Form):
    """Launch a candidate generator stage on a model and a prompt set."""

    method = forms.ChoiceField(
        choices=[(Source.FEW_SHOT, Source.FEW_SHOT.label), (Source.DIRECT, Source.DIRECT.label)]
    )
    model = forms.ModelChoiceField(
        queryset=Checkpoint.objects.all(), required=False, empty_label="the tiny base model"
    )
    prompts = forms.ModelChoiceField(queryset=DatasetVersion.objects.select_related("dataset"))
    exemplars = forms.ModelChoiceField(
        queryset=DatasetVersion.objects.select_related("dataset"),
        required=False,
        help_text="long-CoT examples for few-shot prompting (completions in the cold-start format)",
    )
    target = forms.SlugField(
        max_length=100,
        initial=DEFAULT_DATASET,
        help_text="the dataset whose queue gets the candidates",
    )
    limit = forms.IntegerField(min_value=1, max_value=10000, initial=16, help_text="prompts to use")
    per_prompt = forms.IntegerField(min_value=1, max_value=16, initial=2)
    max_new_tokens = forms.IntegerField(min_value=8, max_value=4096, initial=96)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("method") == Source.FEW_SHOT and not data.get("exemplars"):
            self.add_error("exemplars", "few-shot prompting needs a version of exemplars")
        return data
