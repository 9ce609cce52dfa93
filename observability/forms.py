from django import forms

from observability.models import ExecutionStatus
from observability.selectors import RANGE_LABELS


class PeriodForm(forms.Form):
    range = forms.ChoiceField(choices=list(RANGE_LABELS.items()), required=False, initial="24h")
    start = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC, with range Custom"
    )
    end = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class DashboardFilterForm(PeriodForm):
    agent = forms.ChoiceField(required=False)
    model = forms.ChoiceField(required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *ExecutionStatus.choices], required=False)

    def __init__(self, *args, agents=(), models=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [("", "All agents"), *[(a, a) for a in agents]]
        self.fields["model"].choices = [("", "All models"), *[(m, m) for m in models]]
