from django import forms

from crucible import periods
from crucible.widgets import LongSelect, PlainChoices
from observability.models import ExecutionStatus
from observability.selectors.rollup_reads import PERIOD_RULES


class PeriodForm(periods.PeriodForm):
    """``range`` or ``start``/``end`` (UTC), as in the API; see ``crucible.periods``."""

    rules = PERIOD_RULES


class DashboardFilterForm(PeriodForm):
    # One option per agent and model of the period: hundreds on a busy team.
    agent = forms.ChoiceField(required=False, widget=LongSelect)
    model = forms.ChoiceField(required=False, widget=LongSelect)
    status = forms.ChoiceField(
        choices=[("", "Any status"), *ExecutionStatus.choices], required=False, widget=LongSelect
    )

    def __init__(self, *args, agents=(), models=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = PlainChoices([("", "All agents"), *[(a, a) for a in agents]])
        self.fields["model"].choices = PlainChoices([("", "All models"), *[(m, m) for m in models]])
