"""Launch forms, one per recipe, built from the recipe's parameters.

The form only reads text into values; the recipe checks them (TRL fields, models,
datasets) before anything is written.
"""

from __future__ import annotations

import json
import math

from django import forms

from r1domain.json_text import PROBLEM, invalid_text_path
from r1web.runs.models import Recipe, Status
from r1web.runs.recipes import RecipeSpec
from r1web.runs.recipes.base import Param, queue_choices
from r1web.runs.selectors import DEFAULT_RUN_SORT

MAX_CONFIG_TEXT = 20_000
MAX_JSON_DEPTH = 8


def parse_trl_config(text: str, label: str = "TRL config") -> dict:
    """A JSON object, or ``key=value`` lines (values read as JSON when they parse)."""
    text = text.strip()
    if not text:
        return {}
    if len(text) > MAX_CONFIG_TEXT or "\x00" in text:
        raise forms.ValidationError(f"the {label} is too long or not text")
    config = _parsed_config(text, label)
    # A "\ud800" escape reads as a lone surrogate, which no page or database can hold:
    # even the error naming the field failed (issue 23).
    path = invalid_text_path(config, text)
    if path is not None:
        raise forms.ValidationError(f"{path}: {PROBLEM}")
    return config


def _parsed_config(text: str, label: str) -> dict:
    if text.startswith("{"):
        try:
            value = _json(text)
        except (ValueError, RecursionError) as exc:
            # ValueError: bad JSON, a non-finite number or an integer of thousands of digits
            message = getattr(exc, "msg", None) or str(exc)[:100] or "too deeply nested"
            raise forms.ValidationError(f"not valid JSON: {message}") from None
        if not isinstance(value, dict) or _depth(value) > MAX_JSON_DEPTH:
            raise forms.ValidationError(f"the JSON must be a flat object of {label} fields")
        return value
    config = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"line {number}: expected key=value, got {line[:80]!r}")
        config[key.strip()] = _value(raw.strip())
    if _depth(config) > MAX_JSON_DEPTH:
        raise forms.ValidationError(f"the values of the {label} are nested too deeply")
    return config


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _json(text: str):
    """JSON as PostgreSQL stores it: NaN and Infinity are refused (jsonb has neither)."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _depth(value, level: int = 0) -> int:
    """How deeply ``value`` nests, counted no further than just past the limit (a
    thousand-deep list must not exhaust Python's recursion limit here)."""
    if level > MAX_JSON_DEPTH or not isinstance(value, dict | list):
        return level
    children = value.values() if isinstance(value, dict) else value
    return max((_depth(child, level + 1) for child in children), default=level + 1)


def _value(raw: str):
    """A line's value: JSON when it reads as JSON, else the text itself ("NaN" and
    "1e999" stay text, which the field checks then refuse)."""
    try:
        return _json(raw)
    except (ValueError, RecursionError):
        return raw


def _field(param: Param) -> forms.Field:
    common = {"required": False, "label": param.label, "help_text": param.help}
    if param.kind == "int":
        return forms.IntegerField(min_value=param.low, max_value=param.high,
                                  initial=param.default, **common)
    if param.kind == "float":
        return forms.FloatField(min_value=param.low, max_value=param.high,
                                initial=param.default, **common)
    if param.kind == "bool":
        return forms.BooleanField(initial=param.default, **common)
    if param.kind == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in param.choices], initial=param.default,
                                 **common)
    if param.kind == "config":
        placeholder = "learning_rate=1e-5\nnum_generations=4"
        widget = forms.Textarea(attrs={"rows": 4, "placeholder": placeholder})
        return forms.CharField(widget=widget, max_length=MAX_CONFIG_TEXT, **common)
    return forms.CharField(max_length=500, initial=param.default, **common)


class LaunchForm(forms.Form):
    queue = forms.ChoiceField(
        help_text="cpu: CPU workers (transformers generation); gpu: GPU workers (vLLM if set)",
    )

    def __init__(self, recipe: RecipeSpec, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recipe = recipe
        self.fields["queue"].choices = [(q, q) for q in queue_choices()]
        for param in recipe.params:
            self.fields[param.name] = _field(param)
        self.order_fields([p.name for p in recipe.params] + ["queue"])

    def clean(self) -> dict:
        data = super().clean()
        for param in self.recipe.params:
            if param.kind == "config" and isinstance(data.get(param.name), str):
                try:
                    data[param.name] = parse_trl_config(data[param.name], param.config_class)
                except forms.ValidationError as exc:
                    self.add_error(param.name, exc)
        return data

    def values(self) -> dict:
        """The recipe's raw values (blank ones left out: the recipe's defaults apply)."""
        data = self.cleaned_data
        return {
            p.name: data[p.name] for p in self.recipe.params
            if data.get(p.name) not in (None, "", {})
            and not (p.kind == "bool" and not data[p.name])
        }


# --- the runs list's filters and sort ------------------------------------------------

# Column name -> (heading, direction of a first click): dates and durations newest or
# longest first, names alphabetically.
RUN_SORT_COLUMNS = {
    "recipe": ("Recipe", ""),
    "status": ("Status", ""),
    "duration": ("Duration", "-"),
    "person": ("Launched by", ""),
    "created": ("Created", "-"),
}
RUN_SORT_CHOICES = [(f"{d}{name}", f"{d}{name}") for name in RUN_SORT_COLUMNS for d in ("", "-")]


class RunFilterForm(forms.Form):
    """The runs list's query string: filters, the sort and nothing else. A value that
    is not offered is ignored (a stale bookmark still shows runs)."""

    recipe = forms.ChoiceField(required=False, choices=[("", "any recipe"), *(
        (value, value) for value in Recipe.values)])
    status = forms.ChoiceField(required=False, choices=[("", "any status"), *Status.choices])
    by = forms.ChoiceField(required=False, label="Launched by")
    sort = forms.ChoiceField(required=False, choices=RUN_SORT_CHOICES, widget=forms.HiddenInput)

    def __init__(self, data, *, people: list[str]) -> None:
        super().__init__(data)
        self.fields["by"].choices = [("", "anyone"), *((name, name) for name in people)]

    def filters(self) -> dict[str, str]:
        """Keyword arguments of ``selectors.runs_for_list``."""
        self.is_valid()  # cleaned_data keeps the fields that are valid
        data = self.cleaned_data
        return {
            "recipe": data.get("recipe") or "",
            "status": data.get("status") or "",
            "person": data.get("by") or "",
            "sort": data.get("sort") or DEFAULT_RUN_SORT,
        }


def sort_headings(current: str) -> dict[str, dict[str, str]]:
    """The sortable headings of the runs table by column: the sort a click asks for and
    the ``aria-sort`` of the column sorted now."""
    headings = {}
    for name, (label, first) in RUN_SORT_COLUMNS.items():
        direction = ""
        if current.removeprefix("-") == name:
            direction = "descending" if current.startswith("-") else "ascending"
            next_sort = name if current.startswith("-") else f"-{name}"
        else:
            next_sort = f"{first}{name}"
        headings[name] = {"label": label, "sort": next_sort, "aria": direction}
    return headings
