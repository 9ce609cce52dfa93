"""Build lists and a build's page."""

from __future__ import annotations

from django.db.models import QuerySet

from observability import selectors as obs_selectors
from teammemory.models import Build


def build_list(*, team_ids) -> QuerySet[Build]:
    return Build.objects.filter(team_id__in=team_ids).select_related("team", "reported_by", "api_key")


def build_detail_queryset(*, team_ids) -> QuerySet[Build]:
    return build_list(team_ids=team_ids).prefetch_related(
        "errors", "agent_uses__agent__team", "agent_uses__agent_version"
    )


def build_executions(*, build, limit: int = 100):
    """The build's executions (stored and listed by observability), oldest first."""
    return list(obs_selectors.executions_for_build(team=build.team, build=build)[:limit])
