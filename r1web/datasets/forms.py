from __future__ import annotations

from django import forms
from django.conf import settings

from r1web.datasets.files import FORMATS
from r1web.datasets.uploads import size_text, too_large_message
from r1web.runs.models import Checkpoint


class UploadForm(forms.Form):
    # Not required at the field: a file refused for its size never arrives, and
    # clean_file says why instead of "This field is required".
    file = forms.FileField(
        required=False,
        widget=forms.FileInput(attrs={"required": True}),
        help_text="JSONL (GSM8K or prompt/answer lines, or an export) or Parquet",
    )
    name = forms.SlugField(max_length=100, help_text="the dataset; a new version if it exists")
    format = forms.ChoiceField(
        choices=[("auto", "detect")] + [(f, f) for f in FORMATS if f != "hf"]
    )
    split = forms.ChoiceField(choices=[("train", "train"), ("test", "test")], initial="train")

    def __init__(self, *args, too_large: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large  # the upload handler dropped the file for its size
        limit = settings.R1WEB_UPLOAD_MAX_BYTES
        self.fields["file"].help_text += f", at most {size_text(limit)}"

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        limit = settings.R1WEB_UPLOAD_MAX_BYTES
        if self.too_large or (upload is not None and upload.size > limit):
            raise forms.ValidationError(too_large_message(limit), code="too_large")
        if not upload:
            raise forms.ValidationError(self.fields["file"].error_messages["required"],
                                        code="required")
        return upload


class DiffForm(forms.Form):
    old = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    new = forms.IntegerField(min_value=1, max_value=2**31 - 1)


class ColdStartSFTForm(forms.Form):
    """Launch the cold-start SFT recipe on one dataset version."""

    model = forms.ModelChoiceField(
        queryset=Checkpoint.objects.all(), required=False, empty_label="the tiny base model"
    )
    max_steps = forms.IntegerField(min_value=1, max_value=100000, initial=20)
    learning_rate = forms.FloatField(min_value=0, max_value=1, initial=5e-4)
    trl_config = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='more SFTConfig fields by their TRL names, as JSON, e.g. {"eval_steps": 5}',
    )
    name = forms.CharField(max_length=200, required=False)

    def clean_trl_config(self) -> dict:
        # The launch forms' parser: size, depth, NUL and non-finite numbers are refused
        # there, so this form cannot store what the run form would not.
        from r1web.runs.forms import parse_trl_config

        return parse_trl_config(self.cleaned_data["trl_config"], "SFTConfig")
