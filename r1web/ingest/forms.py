from __future__ import annotations

from django import forms
from django.conf import settings

from r1domain.formats import FORMATS as COMPLETION_FORMATS
from r1web.datasets.uploads import size_text
from r1web.ingest.logfiles import FORMATS


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="what the token is for, e.g. the cluster")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe): cleans to a list."""

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class RolloutImportForm(forms.Form):
    # Not required at the field: files refused for their size never arrive, and
    # clean_files says why instead of "This field is required".
    files = MultipleFileField(
        required=False,
        widget=MultipleFileInput(attrs={"multiple": True, "required": True}),
        help_text="TRL's completions_*.parquet files, or verl's <step>.jsonl rollout dumps",
    )
    format = forms.ChoiceField(choices=[("auto", "detect"), *((f, f) for f in FORMATS)])
    name = forms.CharField(max_length=200)
    num_generations = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=4096,
        help_text="completions per prompt; blank: every completion of a prompt at a step is one group",
    )
    completion_format = forms.ChoiceField(choices=[(f, f) for f in COMPLETION_FORMATS])

    def __init__(self, *args, too_large: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large
        self.fields["files"].help_text += f", at most {size_text(self.limit())} together"

    @staticmethod
    def limit() -> int:
        return settings.R1WEB_UPLOAD_MAX_BYTES

    def clean_files(self):
        files = self.cleaned_data.get("files") or []
        if self.too_large or sum(f.size for f in files) > self.limit():
            raise forms.ValidationError(
                f"These files are larger than {size_text(self.limit())} together; nothing "
                "was imported. Import them from the command line: "
                "manage.py import_rollouts PATH --user NAME",
                code="too_large",
            )
        if not files:
            raise forms.ValidationError(
                self.fields["files"].error_messages["required"], code="required"
            )
        return files
