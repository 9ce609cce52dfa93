"""The rule form: shapes the fields; ``alerts.services`` checks them (every bad field at once)."""

from __future__ import annotations

from django import forms

from alerts.models import WINDOW_CHOICES, AlertRule, Direction, Metric, NoData

RULE_FIELDS = ("name", "metric", "agent_name", "model", "version", "tag", "window_minutes", "direction",
               "warning_threshold", "critical_threshold", "min_samples", "no_data", "pending_minutes", "enabled")  # fmt: skip


class AlertRuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    metric = forms.ChoiceField(choices=Metric.choices)
    agent_name = forms.CharField(required=False, label="Agent", help_text="Empty: every agent.")
    model = forms.CharField(required=False, help_text="Empty: every model.")
    version = forms.CharField(required=False, help_text="Empty: every version.")
    tag = forms.CharField(
        required=False, max_length=64, help_text="Empty: every execution; else only executions with this tag."
    )
    window_minutes = forms.TypedChoiceField(choices=WINDOW_CHOICES, coerce=int, initial=15, label="Window")
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.ABOVE)
    warning_threshold = forms.FloatField(required=False)
    critical_threshold = forms.FloatField(required=False)
    min_samples = forms.IntegerField(initial=1, min_value=1, label="Minimum sample size")
    no_data = forms.ChoiceField(choices=NoData.choices, initial=NoData.KEEP, label="When there is no data")
    pending_minutes = forms.IntegerField(initial=1, min_value=0, max_value=1440, label="Pending for (minutes)")
    enabled = forms.BooleanField(required=False, initial=True)

    @classmethod
    def for_rule(cls, rule: AlertRule) -> AlertRuleForm:
        return cls(initial={name: getattr(rule, name) for name in RULE_FIELDS})

    def rule_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in RULE_FIELDS}


class MuteForm(forms.Form):
    hours = forms.TypedChoiceField(
        choices=[(0, "Unmute"), (1, "1 hour"), (4, "4 hours"), (24, "1 day"), (168, "1 week")], coerce=int
    )
