from django import forms

from teammemory import conf


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class RangeForm(forms.Form):
    DAYS = [(30, "Last 30 days"), (90, "Last 90 days"), (180, "Last 180 days"), (365, "Last year")]
    days = forms.TypedChoiceField(choices=DAYS, coerce=int, required=False, label="Period")

    def clean_days(self):
        return self.cleaned_data.get("days") or conf.INSIGHTS_DEFAULT_DAYS


class SuggestionForm(forms.Form):
    requirements = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 6, "placeholder": "A multi-tenant REST API with background jobs and a React dashboard…"}
        ),
        max_length=conf.MAX_REQUIREMENTS_CHARS,
        strip=False,
        label="Requirements of the new project",
    )
    require = forms.CharField(
        required=False, max_length=500, label="Must use", help_text="Comma-separated components, e.g. postgres, react"
    )
    exclude = forms.CharField(
        required=False, max_length=500, label="Must not use", help_text="Comma-separated components"
    )
    prefer = forms.CharField(
        required=False, max_length=500, label="Would like", help_text="Comma-separated; counts towards similarity"
    )
    limit = forms.IntegerField(min_value=1, max_value=10, initial=3, label="Suggestions")

    def clean_requirements(self):
        value = self.cleaned_data["requirements"]
        if not value.strip():
            raise forms.ValidationError("Describe the project.")
        return value

    def clean(self):
        data = super().clean()
        for name in ("require", "exclude", "prefer"):
            items = _split(data.get(name) or "")
            if len(items) > 20 or any(len(item) > 80 for item in items):
                self.add_error(name, "At most 20 components of at most 80 characters each.")
            data[name] = items
        return data
