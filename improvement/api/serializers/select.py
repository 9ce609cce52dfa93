"""Select (a variant for a call), its assignments, and the results clients send back."""

from __future__ import annotations

from rest_framework import serializers

from crucible import limits
from crucible.api.serializers import OutputModelSerializer, ShapeOnlyMixin, StrictFieldsMixin
from improvement import conf
from improvement.api.serializers.fields import Bool, Flt, Int, Money
from improvement.api.serializers.variants import VariantBriefSerializer
from improvement.models import Assignment, Strategy

UNIT_HELP = (
    "Optional unit key (an end user, a session, a build): the same unit gets the same variant for the "
    "experiment's life. Without it every call is a fresh draw."
)


class SelectUnitSerializer(StrictFieldsMixin, serializers.Serializer):
    unit = serializers.CharField(max_length=200, required=False, help_text=UNIT_HELP)
    context = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Optional context bucket (e.g. the build's stack): a Thompson-sampling experiment chooses "
        "from the variants' results within it.",
    )


class SelectInputSerializer(SelectUnitSerializer):
    experiment = serializers.CharField(max_length=100, help_text="The experiment's name (the key clients use).")


class SelectResultSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    experiment = serializers.CharField(help_text="The experiment's name.")
    experiment_id = serializers.IntegerField()
    strategy = serializers.ChoiceField(choices=Strategy.choices)
    variant = VariantBriefSerializer()
    unit = serializers.CharField(allow_null=True, help_text="The unit key sent, if any.")
    context = serializers.CharField(allow_null=True, help_text="The context bucket sent, if any.")
    returning_unit = serializers.BooleanField(help_text="True when the unit kept the variant it was given before.")


class ResultInputSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    """Shapes one result; ``improvement.services.results_check`` checks it (the same rules as
    for the results of observability events)."""

    assignment_id = Int(min_value=1, required=False, help_text="From select; preferred.")
    variant_id = Int(min_value=1, required=False, help_text="When the call did not go through select.")
    success = Bool()
    quality = Flt(min_value=limits.MIN_QUALITY, max_value=limits.MAX_QUALITY, required=False, allow_null=True)
    duration_ms = Flt(min_value=0.0, max_value=limits.MAX_DURATION_MS, default=0.0)
    tokens = Int(min_value=0, max_value=limits.MAX_TOKENS, default=0)
    cost = Money(max_digits=None, decimal_places=6, min_value=0, max_value=limits.MAX_COST, default=0)
    covariate = Flt(
        required=False,
        allow_null=True,
        help_text="CUPED: the unit's metric before the experiment (e.g. its mean score or success rate then).",
    )
    unit = serializers.CharField(
        max_length=200,
        required=False,
        help_text="The unit key sent to select. With CUPED on and no covariate, a unit 'build:<client build id>' "
        "or 'project:<project name>' gets its project's build score before the experiment from team memory.",
    )


class ResultBatchSerializer(StrictFieldsMixin, serializers.Serializer):
    results = ResultInputSerializer(many=True, allow_empty=False, max_length=conf.MAX_RESULTS_PER_REQUEST)


class RecordedSerializer(serializers.Serializer):
    recorded = serializers.IntegerField()


class AssignmentSerializer(OutputModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "experiment", "variant", "context", "created_at", "result_at"]
        read_only_fields = fields
