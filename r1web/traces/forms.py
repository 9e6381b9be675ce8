"""The trace browser's filters: every field is a GET parameter, so a view is a URL."""

from __future__ import annotations

import functools

from django import forms
from django.utils.datastructures import MultiValueDict

from r1domain.rejection import KEPT, VERDICTS
from r1web.traces.models import FlagLabel

# Bounds of what the database holds: a larger number is no id or step, and it would
# overflow SQLite's integers (a 500) instead of matching nothing.
MAX_ID = 2**63 - 1
MAX_STEP = 2**31 - 1
MAX_NOTE = 5000
YES_NO = [("", "any"), ("yes", "yes"), ("no", "no")]
FLAGGED = [("", "any or none"), ("any", "flagged (any label)"), *FlagLabel.choices]
REJECTED = "rejected"  # any verdict but "kept"
VERDICT_CHOICES = [
    ("", "any"), (REJECTED, "rejected (any reason)"),
    *((verdict, verdict if verdict == KEPT else f"{verdict}: {label}")
      for verdict, label in VERDICTS.items()),
]
# Which samples, by what produced them: a training stage's own samples, evaluations
# (evaluation stages and the probe prompts sampled during GRPO), or the rest
# (generation, rejection sampling, ...).
TRAINING, EVALUATION, OTHER = "training", "evaluation", "other"
PHASES = [
    ("", "any"), (TRAINING, "training (GRPO, SFT)"), (EVALUATION, "evaluation and probes"),
    (OTHER, "generation and filtering"),
]
SORTS = [
    ("newest", "newest"),
    ("step", "step ↑"),
    ("-step", "step ↓"),
    ("-reward", "reward ↓"),
    ("reward", "reward ↑"),
    ("-length", "length ↓"),
    ("length", "length ↑"),
]


class FlatSelect(forms.Select):
    """A select rendered by one template (no optgroups): Django's includes two templates
    per option, and the filter form is shown on every full trace-browser page."""

    template_name = "traces/widgets/select.html"


class TraceFilterForm(forms.Form):
    run = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    stage = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    step_min = forms.IntegerField(required=False, min_value=0, max_value=MAX_STEP,
                                  label="Step from")
    step_max = forms.IntegerField(required=False, min_value=0, max_value=MAX_STEP, label="to")
    reward_min = forms.FloatField(required=False, label="Reward from")
    reward_max = forms.FloatField(required=False, label="to")
    correct = forms.ChoiceField(required=False, choices=YES_NO, widget=FlatSelect)
    format_ok = forms.ChoiceField(required=False, choices=YES_NO, widget=FlatSelect,
                                  label="Format ok")
    reflection = forms.ChoiceField(required=False, choices=YES_NO, widget=FlatSelect,
                                   label="Has reflection")
    flagged = forms.ChoiceField(required=False, choices=FLAGGED, widget=FlatSelect)
    # Rejection sampling's verdict: kept, or why the sample was dropped.
    verdict = forms.ChoiceField(required=False, choices=VERDICT_CHOICES, widget=FlatSelect)
    flag_label = forms.CharField(required=False, max_length=100, label="Custom label")
    q = forms.CharField(required=False, max_length=200, label="Text")
    sort = forms.ChoiceField(required=False, choices=SORTS, widget=FlatSelect)
    samples = forms.ChoiceField(required=False, choices=PHASES, widget=FlatSelect)


# Parameters that choose how samples are shown, not which: they never narrow a filter.
VIEW_PARAMETERS = frozenset({"sort", "after", "cols"})
FILTER_PARAMETERS = frozenset(TraceFilterForm.base_fields) - VIEW_PARAMETERS


class FlagForm(forms.Form):
    """A flag as posted; the service checks what the label means."""

    label = forms.CharField(max_length=20)
    custom_label = forms.CharField(required=False, max_length=100)
    note = forms.CharField(required=False, max_length=MAX_NOTE)

    def error_text(self) -> str:
        return " ".join(f"{name}: {error}" for name, errors in self.errors.items()
                        for error in errors)


def cleaned(params) -> dict:
    """The valid filters of ``params``; an invalid value is ignored, not an error page.

    A page asks for these a dozen times (every query it plans), and a form costs a deep
    copy of its fields; the filters are plain values of the parameters alone, so each
    set of parameters is cleaned once. The caller gets a dict of its own to change."""
    key = tuple((name, tuple(values)) for name, values in params.lists())
    return dict(_cleaned(key))


@functools.lru_cache(maxsize=256)
def _cleaned(key: tuple) -> dict:
    params = MultiValueDict({name: list(values) for name, values in key})
    form = TraceFilterForm(params)
    form.is_valid()
    return {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}


def narrowing(filters: dict) -> dict:
    """The filters set that select fewer samples: the sort only orders them, and a
    custom label counts only with the custom-label flag filter it refines."""
    found = {
        name: value for name, value in filters.items()
        if name not in VIEW_PARAMETERS and value not in (None, "")
    }
    if found.get("flagged") != FlagLabel.CUSTOM:
        found.pop("flag_label", None)
    return found


def describe(filters: dict) -> list[str]:
    """The narrowing filters in words, for a confirmation: ["Run: 3", "Correct: yes"]."""
    words = []
    for name, value in narrowing(filters).items():
        field = TraceFilterForm.base_fields[name]
        shown = dict(getattr(field, "choices", ())).get(value, value)
        label = field.label or name.replace("_", " ").capitalize()
        words.append(f"{label}: {shown}")
    return words
