"""FilterSets shared by the API and the pages (filtering is written once)."""

from __future__ import annotations

from django_filters import rest_framework as filters

from crucible import access
from crucible.filters import BooleanFilter, IdFilter
from marketplace import conf, selectors
from marketplace.models import Agent, AgentVersion, Category, Installation, Rating


class AgentFilterSet(filters.FilterSet):
    """Search and browse. ``q`` is full text (with typo tolerance on names); ``sort`` is one of
    relevance, rating (Bayesian weighted), installs, trending_day/week/month, newest, updated,
    success and cost_per_run (measured evidence: the opted-in teams' medians, K teams or more).
    Visibility is applied by the caller's queryset and again by the search selector."""

    q = filters.CharFilter(method="noop", max_length=conf.SEARCH_MAX_QUERY_LENGTH, label="Search")
    category = filters.ChoiceFilter(choices=Category.choices, method="noop")
    tag = filters.CharFilter(method="noop", max_length=40, label="Tag")
    min_rating = filters.NumberFilter(method="noop", min_value=0, max_value=5, label="Minimum rating")
    verified = BooleanFilter(method="noop", label="Verified publisher")
    publisher = filters.CharFilter(method="noop", max_length=60, label="Publisher team (slug)")
    min_success_rate = filters.NumberFilter(
        method="noop", min_value=0, max_value=100, label="Measured success at least (%)"
    )
    max_cost_per_run = filters.NumberFilter(
        method="noop", min_value=0, max_value=10_000, label="Measured cost per run at most (USD)"
    )
    sort = filters.ChoiceFilter(
        choices=list(selectors.SORTS.items()), method="noop", empty_label="Default", label="Sort"
    )

    class Meta:
        model = Agent
        fields = [
            "q",
            "category",
            "tag",
            "min_rating",
            "verified",
            "publisher",
            "min_success_rate",
            "max_cost_per_run",
            "sort",
        ]

    def noop(self, queryset, name, value):
        return queryset

    def search(self) -> selectors.AgentSearch:
        """The search these filters ask for (after ``is_valid()``): the agents in order, and their
        count when the search already knows it (lists give it to ``CappedPaginator``)."""
        if getattr(self, "_search", None) is None:
            data = self.form.cleaned_data
            team_ids = access.readable_team_ids(self.request) if self.request is not None else []
            self._search = selectors.agent_search(
                queryset=self.queryset,
                team_ids=team_ids,
                q=data.get("q") or "",
                category=data.get("category") or None,
                tags=[data["tag"].strip().lower()] if data.get("tag") else None,
                min_rating=data.get("min_rating"),
                verified=data.get("verified"),
                publisher=data.get("publisher") or None,
                min_success_rate=data.get("min_success_rate"),
                max_cost_per_run=data.get("max_cost_per_run"),
                sort=data.get("sort") or None,
            )
        return self._search

    def filter_queryset(self, queryset):
        return self.search().queryset


class AgentVersionFilterSet(filters.FilterSet):
    # By id, without checking that the agent exists: a choice filter over all agents would answer
    # 400 for an unknown id but 200 for another team's private one, telling callers it exists.
    agent = IdFilter(field_name="agent_id", label="Agent id")
    version = filters.CharFilter(field_name="version")
    is_yanked = BooleanFilter()
    is_release = BooleanFilter()

    class Meta:
        model = AgentVersion
        fields = ["agent", "version", "is_yanked", "is_release"]


class InstallationFilterSet(filters.FilterSet):
    # By id, without checking that the agent exists: a choice filter over all agents would answer
    # 400 for an unknown id but 200 for another team's private one, telling callers it exists.
    agent = IdFilter(field_name="agent_id", label="Agent id")
    active = BooleanFilter(field_name="uninstalled_at", lookup_expr="isnull", label="Installed now")
    team = filters.CharFilter(field_name="team__slug", label="Team (slug)")
    pinned = BooleanFilter()

    class Meta:
        model = Installation
        fields = ["agent", "active", "pinned", "team"]


class RatingFilterSet(filters.FilterSet):
    # By id, without checking that the agent exists: a choice filter over all agents would answer
    # 400 for an unknown id but 200 for another team's private one, telling callers it exists.
    agent = IdFilter(field_name="agent_id", label="Agent id")
    min_stars = filters.NumberFilter(field_name="stars", lookup_expr="gte", min_value=1, max_value=5)
    user = filters.CharFilter(field_name="user__username")
    has_review = BooleanFilter(method="filter_has_review")

    class Meta:
        model = Rating
        fields = ["agent", "stars", "min_stars", "user", "has_review"]

    def filter_has_review(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(review="") if value else queryset.filter(review="")
