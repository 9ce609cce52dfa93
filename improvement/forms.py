"""Forms of the experiment pages. Validation that needs the database lives in the services; the
views copy a service's ValidationError onto the form."""

from django import forms

from crucible import limits
from improvement.models import Experiment
from marketplace import selectors as marketplace_selectors


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = [
            "name",
            "description",
            "agent",
            "strategy",
            "epsilon",
            "min_results",
            "weight_quality",
            "weight_success",
            "weight_speed",
            "weight_cost",
            "speed_reference_ms",
            "cost_reference",
            "guardrail_error_margin",
            "guardrail_p95_margin",
            "guardrail_cost_margin",
            "guardrail_auto_stop",
            "cuped",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "weight_quality": "Weight of the quality score (0-100, scaled to 0-1).",
            "weight_success": "Weight of success (1) or failure (0).",
            "weight_speed": "Weight of speed: reference / (reference + duration).",
            "weight_cost": "Weight of cost: reference / (reference + cost).",
        }

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = marketplace_selectors.agents_owned(team=team)
        self.fields["agent"].required = False
        # Uniqueness of (team, name) is checked by the service with a clear message.
        self.instance.team = team if team is not None else getattr(self.instance, "team", None)

    def validate_unique(self):
        pass


class ExperimentCreateForm(ExperimentForm):
    control_prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="The prompt in use today (becomes the control variant).",
    )
    challenger_prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="A first alternative to test.",
    )
    start_now = forms.BooleanField(required=False, initial=False, label="Start serving now")


class VariantForm(forms.Form):
    name = forms.CharField(max_length=limits.NAME_CHARS)
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    is_control = forms.BooleanField(required=False, label="Control")


class ConcludeForm(forms.Form):
    winner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Winner")
    promote = forms.BooleanField(required=False, label="Publish the winner as a new agent version")

    def __init__(self, *args, experiment=None, variants=None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "As the evidence says (may be none)")]
        if variants is None and experiment is not None:
            variants = experiment.variants.order_by("id")
        choices += [(v.pk, v.name) for v in variants or []]
        self.fields["winner"].choices = choices
