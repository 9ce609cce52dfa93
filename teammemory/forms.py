from django import forms

from crucible import periods
from teammemory import conf
from teammemory.selectors import PERIOD_RULES


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class PeriodForm(periods.PeriodForm):
    """The insights period: a preset (``?range=90d``) or ``?since=``/``?until=``, as in the API."""

    rules = PERIOD_RULES


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
