"""Marketplace pages of measured evidence: a version's page, and the team's sharing setting.
(The agent page shows its latest version's evidence through ``evidence_context``.)"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import TemplateView

from crucible import access
from crucible.pages import TeamPageMixin
from marketplace import conf, evidence, selectors
from marketplace.models import AgentVersion, EvidenceSharing
from marketplace.services.evidence import evidence_sharing_set


def period_of(request) -> int:
    try:
        days = int(request.GET.get("days", evidence.DEFAULT_DAYS))
    except ValueError:
        return evidence.DEFAULT_DAYS
    return days if days in evidence.PERIODS else evidence.DEFAULT_DAYS


def evidence_context(request, *, version, team) -> dict:
    """What ``marketplace/_evidence.html`` needs for ``version`` (None: no evidence section)."""
    if version is None:
        return {"evidence": None}
    days = period_of(request)
    return {
        "evidence": evidence.version_evidence(version=version, team=team, days=days),
        "evidence_periods": list(evidence.PERIODS.items()),
        "evidence_days": days,
    }


def evidence_comparison(request, *, old, new, team) -> dict:
    """The diff page's evidence of both versions, figure by figure (the same rules as the version
    page: the team's own figures, other teams' only as a spread of K sharing teams)."""
    days = period_of(request)
    before = evidence.version_evidence(version=old, team=team, days=days)
    after = evidence.version_evidence(version=new, team=team, days=days)
    return {
        "evidence_old": before,
        "evidence_new": after,
        "evidence_pairs": list(zip(before.figures, after.figures, strict=True)),
        "evidence_periods": list(evidence.PERIODS.items()),
        "evidence_days": days,
    }


class VersionDetailView(TeamPageMixin, TemplateView):
    """One version of an agent the caller can see: its definition and its measured evidence."""

    template_name = "marketplace/version_detail.html"

    def object_queryset(self):
        return selectors.agents_visible(team_ids=self.readable_team_ids).select_related("team", "latest_version")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        agent = self.get_object()
        version = get_object_or_404(
            AgentVersion.objects.select_related("published_by"), agent=agent, pk=self.kwargs["version_pk"]
        )
        context.update(agent=agent, version=version, **evidence_context(self.request, version=version, team=self.team))
        return context


class EvidenceSharingView(TeamPageMixin, TemplateView):
    """The active team's evidence sharing: anyone in the team sees it, team admins change it."""

    template_name = "marketplace/evidence_sharing.html"
    write_action = access.MANAGE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        setting = EvidenceSharing.objects.filter(team=self.team).first()
        context.update(
            share_evidence=bool(setting and setting.share_evidence),
            can_manage=access.can(self.request, self.team.pk, access.MANAGE),
            min_teams=conf.EVIDENCE_MIN_TEAMS,
        )
        return context

    def post(self, request, *args, **kwargs):
        share = request.POST.get("share_evidence") == "on"
        evidence_sharing_set(team=self.team, share_evidence=share, user=request.user)
        messages.success(
            request,
            "Your team's evidence is now shared with other teams (unnamed, in spreads of at least "
            f"{conf.EVIDENCE_MIN_TEAMS} teams)."
            if share
            else "Your team's evidence is no longer shared.",
        )
        return redirect("marketplace:evidence-sharing")
