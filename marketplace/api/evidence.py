"""Measured evidence over the API: a version's evidence, and the team's sharing setting."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from crucible import access
from crucible.api.query import single_values
from crucible.api.serializers import StrictFieldsMixin
from marketplace import evidence
from marketplace.models import EvidenceSharing
from marketplace.services.evidence import evidence_sharing_set


class IntervalSerializer(serializers.Serializer):
    value = serializers.FloatField()
    low = serializers.FloatField(allow_null=True, help_text="95 % interval (see docs/marketplace.md).")
    high = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField(help_text="Sample size.")


class SpreadSerializer(serializers.Serializer):
    min = serializers.FloatField()
    median = serializers.FloatField()
    max = serializers.FloatField()
    teams = serializers.IntegerField(help_text="Opted-in teams behind this figure (at least the threshold).")


OwnFiguresSerializer = type(
    "EvidenceOwnFiguresSerializer",
    (serializers.Serializer,),
    {key: IntervalSerializer(allow_null=True, help_text=label) for key, label, _ in evidence.FIGURES},
)
OthersFiguresSerializer = type(
    "EvidenceOthersFiguresSerializer",
    (serializers.Serializer,),
    {
        key: SpreadSerializer(allow_null=True, help_text=f"{label}: spread across teams, null below the threshold.")
        for key, label, _ in evidence.FIGURES
    },
)


class ExperimentOutcomeSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["won", "lost", "no_winner"])
    samples = serializers.IntegerField()
    successes = serializers.IntegerField()
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    concluded_at = serializers.DateTimeField()


class ExperimentsOthersSerializer(serializers.Serializer):
    teams = serializers.IntegerField()
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    no_winner = serializers.IntegerField()


class ExperimentsSerializer(serializers.Serializer):
    own = ExperimentOutcomeSerializer(many=True)
    others = ExperimentsOthersSerializer(allow_null=True)


class EvidenceVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.CharField()
    agent = serializers.IntegerField()


class EvidenceSerializer(serializers.Serializer):
    version = EvidenceVersionSerializer()
    days = serializers.IntegerField()
    since = serializers.DateField()
    min_teams = serializers.IntegerField(help_text="Other teams' figures need at least this many opted-in teams.")
    own = OwnFiguresSerializer(help_text="The acting team's own figures.")
    others = OthersFiguresSerializer(help_text="Opted-in teams: a spread, never one team's figure.")
    experiments = ExperimentsSerializer()


class EvidenceQuerySerializer(StrictFieldsMixin, serializers.Serializer):
    days = serializers.ChoiceField(choices=sorted(evidence.PERIODS), required=False, default=evidence.DEFAULT_DAYS)


EVIDENCE_SCHEMA = extend_schema(
    parameters=[
        OpenApiParameter("days", int, enum=sorted(evidence.PERIODS), description="Period: the last 7, 30 or 90 days.")
    ],
    responses={200: EvidenceSerializer, 400: OpenApiResponse(description="Bad period"), 404: None},
    summary="Measured evidence of a version: your team's figures and the opted-in teams' spread",
)


def evidence_response(request, version) -> Response:
    repeated = single_values(request.query_params, ["days"])
    if repeated:
        raise serializers.ValidationError(repeated)
    query = EvidenceQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    team = access.acting_team_for(request, access.READ)
    found = evidence.version_evidence(version=version, team=team, days=int(query.validated_data["days"]))
    return Response(EvidenceSerializer(found.as_dict()).data)


class EvidenceSharingSerializer(StrictFieldsMixin, serializers.Serializer):
    share_evidence = serializers.BooleanField(
        help_text="Let your team's measured figures count, unnamed, in other teams' spread of a version."
    )


class EvidenceSharingView(APIView):
    """The acting team's evidence sharing (off by default). Reading needs any role, changing it
    the admin role."""

    @extend_schema(responses={200: EvidenceSharingSerializer}, summary="Your team's evidence sharing setting")
    def get(self, request):
        team = access.acting_team_for(request, access.READ)
        setting = EvidenceSharing.objects.filter(team=team).first()
        return Response({"share_evidence": bool(setting and setting.share_evidence)})

    @extend_schema(
        request=EvidenceSharingSerializer,
        responses={200: EvidenceSharingSerializer, 400: OpenApiResponse(description="Bad input"), 403: None},
        summary="Turn your team's evidence sharing on or off (team admins)",
    )
    def put(self, request):
        team = access.acting_team_for(request, access.MANAGE)
        data = EvidenceSharingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user if getattr(request.user, "is_authenticated", False) else None
        setting = evidence_sharing_set(team=team, share_evidence=data.validated_data["share_evidence"], user=user)
        return Response({"share_evidence": setting.share_evidence})
