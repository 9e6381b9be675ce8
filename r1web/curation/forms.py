from __future__ import annotations

from django import forms
from django.http import QueryDict

from r1web.curation.models import Source
from r1web.datasets.models import DatasetVersion
from r1web.runs.models import Checkpoint
from r1web.traces.forms import MAX_ID, TraceFilterForm, narrowing

DEFAULT_DATASET = "cold-start"
MAX_FILTER_QUERY = 2000


class PromoteForm(forms.Form):
    """What the trace browser posts: one sample, or the query string of its filter.

    ``cleaned_data["filter"]`` is that filter as a QueryDict: valid, and narrower than
    "every sample" (an empty filter would promote everything the server holds).
    """

    sample = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    filter_query = forms.CharField(required=False, max_length=MAX_FILTER_QUERY)
    dataset = forms.SlugField(required=False, max_length=100)
    new_dataset = forms.SlugField(required=False, max_length=100)
    # The newest sample id the curator confirmed: samples a running stage writes after
    # the confirmation are not promoted behind their back.
    upto = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        if not data.get("sample"):
            data["filter"] = _narrowing_filter(data.get("filter_query") or "")
        data["dataset"] = data.get("new_dataset") or data.get("dataset") or DEFAULT_DATASET
        return data


def _narrowing_filter(query: str) -> QueryDict:
    params = QueryDict(query, mutable=True)
    params.pop("after", None)  # a page of the browser, not a filter
    form = TraceFilterForm(params)
    if not form.is_valid():
        # The browser ignores a bad value when it lists samples; a promotion must not
        # silently widen to everything the other filters match.
        fields = ", ".join(sorted(form.errors))
        raise forms.ValidationError(f"the filter has invalid values ({fields}); fix it first")
    if not narrowing(form.cleaned_data):
        raise forms.ValidationError(
            "that filter matches every sample: choose a run, a stage or another filter "
            "before promoting"
        )
    return params


MAX_REASONING = 200_000  # characters: long CoT, but not a pasted file
MAX_SUMMARY = 20_000


class EditForm(forms.Form):
    reasoning = forms.CharField(required=False, max_length=MAX_REASONING,
                                widget=forms.Textarea(attrs={"rows": 14}))
    summary = forms.CharField(required=False, max_length=MAX_SUMMARY,
                              widget=forms.Textarea(attrs={"rows": 4}))


class RejectForm(forms.Form):
    # Blank is the service's refusal ("say why"); the form refuses only what is not text.
    reason = forms.CharField(required=False, max_length=1000)


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
