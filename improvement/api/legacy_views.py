"""The earlier implementation's two routes, with the same meaning and response shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from crucible import access
from improvement import selectors, services
from improvement.api import serializers as s


class TestVariantView(APIView):
    """``POST /api/improve/test-variant``: add a prompt variant to the experiment named
    ``agent_name`` (created, running, if it does not exist). Fields come as query parameters (as
    the earlier clients send them) or in a JSON body."""

    @extend_schema(
        operation_id="legacy_improve_test_variant",
        parameters=[
            OpenApiParameter("agent_name", str, description="Prompt (experiment) name, if not in the body."),
            OpenApiParameter("variant_prompt", str, description="The variant's prompt, if not in the body."),
            OpenApiParameter("variant_name", str, description="Optional variant name (default v<n>)."),
        ],
        request=s.LegacyTestVariantSerializer,
        responses={200: s.LegacyVariantCreatedSerializer},
    )
    def post(self, request):
        source = request.data if request.data else request.query_params
        if hasattr(source, "dict"):
            source = source.dict()
        data = s.LegacyTestVariantSerializer(data=source)
        data.is_valid(raise_exception=True)
        variant = services.legacy_test_variant(
            team=access.active_team(request), user=access.actor_user(request), **data.validated_data
        )
        return Response({"variant_id": str(variant.pk)})


class ReportView(APIView):
    """``GET /api/improve/report/{name}``: the best variant by the evidence, or a message saying
    more data is needed / there is no clear winner yet."""

    @extend_schema(operation_id="legacy_improve_report", responses=s.LegacyReportSerializer)
    def get(self, request, name: str):
        team = access.active_team(request)
        experiment = selectors.experiment_by_name(team=team, name=name) if team else None
        if experiment is None:
            return Response({"message": "Need more data: no variants for this prompt yet."})
        return Response(selectors.legacy_report(experiment=experiment))
