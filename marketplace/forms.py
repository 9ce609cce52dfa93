from __future__ import annotations

from django import forms

from crucible import limits
from marketplace import conf
from marketplace.models import Category, Report, Visibility

JSON_HELP = "A JSON Schema document (optional)."


class AgentEditForm(forms.Form):
    name = forms.CharField(max_length=limits.NAME_CHARS)
    summary = forms.CharField(max_length=limits.SHORT_TEXT_CHARS, required=False)
    description = forms.CharField(
        widget=forms.Textarea, required=False, max_length=conf.MAX_DESCRIPTION_CHARS, help_text="Markdown."
    )
    category = forms.ChoiceField(choices=Category.choices, initial=Category.OTHER)
    tags = forms.CharField(required=False, max_length=600, help_text="Comma-separated, e.g. python, review")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PUBLIC)

    def clean_tags(self):
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]


class OptionalJSONField(forms.JSONField):
    """A JSON box that is empty when there is no value (Django's JSONField shows the text
    ``null``); an empty box cleans to None."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class VersionFieldsMixin(forms.Form):
    system_prompt = forms.CharField(widget=forms.Textarea, max_length=conf.MAX_SYSTEM_PROMPT_CHARS, strip=False)
    changelog = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=20_000)
    input_schema = OptionalJSONField(required=False, widget=forms.Textarea(attrs={"rows": 5}), help_text=JSON_HELP)
    output_schema = OptionalJSONField(required=False, widget=forms.Textarea(attrs={"rows": 5}), help_text=JSON_HELP)
    model_hints = OptionalJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='e.g. {"model": "gpt-4o", "temperature": 0.2}',
    )


class AgentCreateForm(AgentEditForm, VersionFieldsMixin):
    slug = forms.SlugField(max_length=limits.NAME_CHARS, required=False, help_text="Default: made from the name.")
    version = forms.CharField(max_length=64, initial="1.0.0", help_text="Semantic version, e.g. 1.0.0")

    field_order = [
        "name",
        "slug",
        "summary",
        "description",
        "category",
        "tags",
        "visibility",
        "version",
        "system_prompt",
        "changelog",
        "input_schema",
        "output_schema",
        "model_hints",
    ]


class VersionCreateForm(VersionFieldsMixin):
    version = forms.CharField(max_length=64, required=False, help_text="Empty: the next minor version.")
    field_order = ["version", "system_prompt", "changelog", "input_schema", "output_schema", "model_hints"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["input_schema"].help_text = "Empty: keep the latest version's schema."
        self.fields["output_schema"].help_text = "Empty: keep the latest version's schema."
        self.fields["model_hints"].help_text = "Empty: keep the latest version's hints."


class RateForm(forms.Form):
    stars = forms.TypedChoiceField(choices=[(n, f"{n} ★") for n in range(5, 0, -1)], coerce=int)
    review = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=Report.Reason.choices)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000)
    rating = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)


class YankForm(forms.Form):
    reason = forms.CharField(max_length=limits.SHORT_TEXT_CHARS)
