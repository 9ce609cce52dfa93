"""Marketplace reads: visibility, search and ranking, statistics, the home card.

Contract for other apps (docs/architecture.md): ``agent_for_team`` and ``version_for_agent``.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Count,
    DateField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Power
from django.urls import reverse
from django.utils import timezone

from crucible import formatting
from marketplace import conf
from marketplace.models import (
    VERSION_ORDER_DESC,
    Agent,
    AgentDailyStat,
    AgentVersion,
    Installation,
    Rating,
    Visibility,
    weighted_rating,
)
from marketplace.versioning import InvalidVersion, SemVer


class DaysBetween(Func):
    """``date_a - date_b`` as a whole number of days (PostgreSQL date arithmetic)."""

    arg_joiner = " - "
    template = "(%(expressions)s)"
    output_field = IntegerField()


LATEST_VERSION_WIDE_FIELDS = ("system_prompt", "input_schema", "output_schema", "model_hints", "changelog")
TRENDING_WINDOWS = {"day": 1, "week": 7, "month": 30}
SORTS = {
    "relevance": "Relevance",
    "rating": "Weighted rating",
    "installs": "Installs",
    "trending_day": "Trending today",
    "trending_week": "Trending this week",
    "trending_month": "Trending this month",
    "newest": "Newest",
    "updated": "Recently updated",
    "success": "Measured success rate",
    "cost_per_run": "Measured cost per run",
}


# --- visibility --------------------------------------------------------------------------------


def visible_q(team_ids, *, installed: bool = False, prefix: str = "") -> Q:
    """Agents a caller with these teams may see: their own (any visibility, listed or not) and
    public listed agents of everyone else; with ``installed``, also agents one of the teams has
    installed (so an agent unlisted or made private later stays reachable to its users).
    ``prefix`` applies the rule through a relation (``"agent__"`` for versions and ratings)."""
    team_ids = list(team_ids)
    q = Q(**{f"{prefix}team_id__in": team_ids}) | Q(
        **{f"{prefix}visibility": Visibility.PUBLIC, f"{prefix}is_listed": True}
    )
    if installed:
        q |= Q(**{f"{prefix}id__in": Installation.objects.filter(team_id__in=team_ids).values("agent_id")})
    return q


def agents_visible(*, team_ids, installed: bool = True) -> QuerySet[Agent]:
    return Agent.objects.filter(visible_q(team_ids, installed=installed))


def agents_owned(*, team) -> QuerySet[Agent]:
    """The agents ``team`` owns, by name (none when ``team`` is None); e.g. for a choice field."""
    return Agent.objects.filter(team=team).order_by("name") if team is not None else Agent.objects.none()


# --- contract ------------------------------------------------------------------------------------


def _parse_agent_ref(ref) -> tuple[str, object] | None:
    """("id", pk), ("path", (team_slug, slug)) or ("slug", slug) for a reference; None for one
    that can name no agent."""
    if ref is None or ref == "" or isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ("id", ref) if 0 <= ref < 2**63 else None
    if not isinstance(ref, str):
        return None
    ref = ref.strip()
    if not ref or "\x00" in ref or len(ref) > 200:
        return None
    if ref.isascii() and ref.isdigit():
        return ("id", int(ref)) if int(ref) < 2**63 else None
    if "/" in ref:
        team_slug, _, slug = ref.partition("/")
        return ("path", (team_slug, slug))
    return ("slug", ref)


def _agents_visible_to(team) -> QuerySet[Agent]:
    return Agent.objects.filter(visible_q([team.pk], installed=True)).select_related("team", "latest_version")


def _best_by_slug(agents, team) -> Agent | None:
    """Among agents sharing a slug: the team's own first, then the most installed, then the oldest."""
    return min(agents, key=lambda a: (a.team_id != team.pk, -a.install_count, a.pk), default=None)


def agent_for_team(*, team, ref) -> Agent | None:
    """The agent ``ref`` names for ``team``: an id, a ``slug`` or ``team-slug/slug``. The team's own
    agents win over public ones with the same slug; private agents of other teams are never found
    (unless the team installed one before it became private). Unlisted agents are found only by
    their own team and by teams that installed them."""
    parsed = _parse_agent_ref(ref)
    if parsed is None:
        return None
    kind, value = parsed
    base = _agents_visible_to(team)
    if kind == "id":
        return base.filter(pk=value).first()
    if kind == "path":
        team_slug, slug = value
        return base.filter(team__slug=team_slug, slug=slug).first()
    return (
        base.filter(slug=value)
        .annotate(own=Case(When(team_id=team.pk, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("own", "-install_count", "pk")
        .first()
    )


def agents_for_team_bulk(*, team, refs) -> dict[object, Agent]:
    """``agent_for_team`` for a whole batch of references in ONE query: {ref: agent} for the refs
    that name an agent this team may use (the others are missing). Refs as given (ids, slugs,
    ``team-slug/slug``; ints or strings)."""
    parsed = {ref: _parse_agent_ref(ref) for ref in set(refs) if isinstance(ref, (int, str))}
    parsed = {ref: p for ref, p in parsed.items() if p is not None}
    ids = {v for kind, v in parsed.values() if kind == "id"}
    slugs = {v for kind, v in parsed.values() if kind == "slug"}
    paths = {v for kind, v in parsed.values() if kind == "path"}
    if not parsed:
        return {}
    match = Q(pk__in=ids) | Q(slug__in=slugs)
    for team_slug, slug in paths:
        match |= Q(team__slug=team_slug, slug=slug)
    candidates = list(_agents_visible_to(team).filter(match))
    by_id = {a.pk: a for a in candidates}
    by_path = {(a.team.slug, a.slug): a for a in candidates}
    by_slug: dict[str, list[Agent]] = {}
    for agent in candidates:
        by_slug.setdefault(agent.slug, []).append(agent)
    found = {}
    for ref, (kind, value) in parsed.items():
        if kind == "id":
            agent = by_id.get(value)
        elif kind == "path":
            agent = by_path.get(value)
        else:
            agent = _best_by_slug(by_slug.get(value, ()), team)
        if agent is not None:
            found[ref] = agent
    return found


def version_for_agent(*, agent, version) -> AgentVersion | None:
    """The version row of ``agent`` named ``version`` ('1.2.0', 'v1.2.0'), or the default version
    (latest not yanked) for None/'latest'. Yanked versions are returned when named explicitly."""
    if isinstance(version, AgentVersion):
        return version if version.agent_id == agent.pk else None
    if version in (None, "", "latest"):
        return AgentVersion.objects.filter(
            pk=Subquery(Agent.objects.filter(pk=agent.pk).values("latest_version_id")[:1])
        ).first()
    try:
        parsed = SemVer.parse(version)
    except InvalidVersion:
        return None
    return AgentVersion.objects.filter(
        agent=agent, major=parsed.major, minor=parsed.minor, patch=parsed.patch, prerelease=parsed.prerelease
    ).first()


def versions_for_agents_bulk(*, pairs) -> dict[tuple[int, object], AgentVersion]:
    """``version_for_agent`` for a batch of (agent, version) pairs in at most ONE query:
    {(agent.pk, version as given): AgentVersion} for the pairs that name a version. The default
    version (None, "", "latest") comes from the agent's ``latest_version`` (select it with the
    agent, as ``agents_for_team_bulk`` does)."""
    found: dict[tuple[int, object], AgentVersion] = {}
    wanted: dict[tuple, list[tuple[int, object]]] = {}
    for agent, version in pairs:
        if version in (None, "", "latest"):
            if agent.latest_version_id is not None:
                found[(agent.pk, version)] = agent.latest_version
            continue
        try:
            parsed = SemVer.parse(version)
        except (InvalidVersion, TypeError):
            continue
        key = (agent.pk, parsed.major, parsed.minor, parsed.patch, parsed.prerelease)
        wanted.setdefault(key, []).append((agent.pk, version))
    if wanted:
        match = Q()
        for agent_id, major, minor, patch, prerelease in wanted:
            match |= Q(agent_id=agent_id, major=major, minor=minor, patch=patch, prerelease=prerelease)
        for row in AgentVersion.objects.filter(match):
            for pair in wanted.get((row.agent_id, row.major, row.minor, row.patch, row.prerelease), ()):
                found[pair] = row
    return found


def versions_ordered(*, agent) -> QuerySet[AgentVersion]:
    return AgentVersion.objects.filter(agent=agent).order_by(*VERSION_ORDER_DESC)


# --- ranking expressions ---------------------------------------------------------------------------


def weighted_rating_expression():
    """Bayesian average: (C * m + sum of stars) / (C + number of ratings) (an SQL function, indexed)."""
    return weighted_rating()


def rating_average_expression():
    return Case(
        When(rating_count=0, then=Value(None, output_field=FloatField())),
        default=ExpressionWrapper(
            Cast("rating_sum", FloatField()) / Cast("rating_count", FloatField()), output_field=FloatField()
        ),
        output_field=FloatField(),
    )


def trending_expression(window: str):
    """Installs of the last ``window`` days, each day weighted 0.5 ** (age / half-life), read
    from the pre-aggregated daily stats (one small indexed subquery per agent on the page)."""
    days = TRENDING_WINDOWS[window]
    today = timezone.now().date()
    since = today - timedelta(days=days - 1)
    age = DaysBetween(Value(today, output_field=DateField()), F("day"))
    decayed = Sum(
        ExpressionWrapper(
            F("installs") * Power(Value(0.5), Cast(age, FloatField()) / Value(float(conf.TRENDING_HALF_LIFE_DAYS))),
            output_field=FloatField(),
        )
    )
    subquery = (
        AgentDailyStat.objects.filter(agent=OuterRef("pk"), day__gte=since, installs__gt=0)
        .values("agent")
        .annotate(score=decayed)
        .values("score")
    )
    return Coalesce(Subquery(subquery, output_field=FloatField()), Value(0.0))


def with_listing_annotations(queryset: QuerySet[Agent]) -> QuerySet[Agent]:
    """Publisher, latest version, Bayesian rating and plain average; never the stored search
    vector (only PostgreSQL needs it)."""
    return (
        queryset.select_related("team", "latest_version")
        .defer("search_vector", *(f"latest_version__{name}" for name in LATEST_VERSION_WIDE_FIELDS))
        .annotate(weighted_rating=weighted_rating_expression(), rating_avg=rating_average_expression())
    )


def with_installed_version(queryset: QuerySet[Agent], *, team) -> QuerySet[Agent]:
    """Each agent with ``installed_version``: the version ``team`` runs, or None (a subquery per
    listed row on the installation key, so a page of agents needs no second query)."""
    installed = Installation.objects.filter(team=team, agent=OuterRef("pk"), uninstalled_at__isnull=True)
    return queryset.annotate(installed_version=Subquery(installed.values("version__version")[:1]))


# --- statistics ------------------------------------------------------------------------------------


def agent_stats(*, agent: Agent, days: int = 90) -> dict:
    """Popularity of one agent: counters, rating histogram, and installs/downloads per day for the
    last ``days`` days (from the pre-aggregated daily table)."""
    since = timezone.now().date() - timedelta(days=days - 1)
    daily = list(
        AgentDailyStat.objects.filter(agent=agent, day__gte=since)
        .order_by("day")
        .values("day", "installs", "uninstalls", "downloads")
    )
    return {
        "installs": agent.install_count,
        "active_installs": agent.active_install_count,
        "downloads": agent.download_count,
        "rating_count": agent.rating_count,
        "rating_average": agent.rating_average,
        "weighted_rating": round(
            (conf.RATING_PRIOR_COUNT * conf.RATING_PRIOR_MEAN + agent.rating_sum)
            / (conf.RATING_PRIOR_COUNT + agent.rating_count),
            3,
        )
        if (conf.RATING_PRIOR_COUNT + agent.rating_count)
        else None,
        "histogram": {str(stars): count for stars, count in agent.histogram.items()},
        "daily": daily,
    }


def installations_for_team(*, team) -> QuerySet[Installation]:
    return (
        Installation.objects.filter(team=team)
        .select_related("agent", "agent__team", "agent__latest_version", "version")
        .order_by("uninstalled_at", "agent__name")
    )


def ratings_for_agent(*, agent) -> QuerySet[Rating]:
    return Rating.objects.filter(agent=agent, is_hidden=False).select_related("user", "team").order_by("-updated_at")


def home_card(*, team, request) -> dict:
    own = Agent.objects.filter(team=team).aggregate(
        agents=Count("pk"), installs=Coalesce(Sum("install_count"), 0), ratings=Coalesce(Sum("rating_count"), 0)
    )
    installed = Installation.objects.filter(team=team, uninstalled_at__isnull=True).count()
    return {
        "title": "Marketplace",
        "url": reverse("marketplace:index"),
        "figures": [
            {"label": "Installed agents", "value": formatting.number(installed)},
            {"label": "Published agents", "value": formatting.number(own["agents"])},
            {"label": "Installs of yours", "value": formatting.number(own["installs"])},
            {"label": "Ratings received", "value": formatting.number(own["ratings"])},
        ],
        "note": "Find, install and rate agents shared by other teams.",
        "links": [
            {"label": "Browse agents", "url": reverse("marketplace:index")},
            {"label": "Installed by my team", "url": reverse("marketplace:installed")},
            {"label": "Publish an agent", "url": reverse("marketplace:agent-create")},
        ],
    }


def agents_with_versions(*, team, limit: int) -> list[tuple[Agent, list[AgentVersion]]]:
    """The team's own first ``limit`` agents, each with its versions oldest first (two queries)."""
    agents = list(Agent.objects.filter(team=team).order_by("pk")[:limit])
    versions: dict[int, list[AgentVersion]] = {a.pk: [] for a in agents}
    for version in AgentVersion.objects.filter(agent__in=agents).order_by("created_at", "pk"):
        versions[version.agent_id].append(version)
    return [(a, versions[a.pk]) for a in agents]


def agents_by_ids(*, ids) -> dict[int, Agent]:
    """Agents by primary key, with their team (one query); ids that name no agent are missing."""
    return {a.pk: a for a in Agent.objects.filter(pk__in=ids).select_related("team")}


def version_numbers_by_ids(*, ids) -> dict[int, str]:
    """The version string of each agent version by primary key (one query); unknown ids are missing."""
    return dict(AgentVersion.objects.filter(pk__in=ids).values_list("pk", "version"))


def version_for_run(*, agent: Agent, run_key: str) -> AgentVersion | None:
    """The version a run of an install on the default channel uses: the candidate for the
    agent's ``candidate_share`` of runs (decided by a hash of ``run_key``, so a run retried with
    the same key gets the same version), else the stable default (``latest_version``)."""
    agent = Agent.objects.select_related("latest_version").get(pk=agent.pk)
    if agent.candidate_share > 0:
        candidate = (
            AgentVersion.objects.filter(agent=agent, channel="candidate", is_yanked=False).order_by("-pk").first()
        )
        digest = hashlib.sha256(f"{agent.pk}:{run_key}".encode()).digest()
        if candidate is not None and int.from_bytes(digest[:8], "big") / 2**64 < agent.candidate_share:
            return candidate
    return agent.latest_version


def version_to_run(*, team, agent: Agent, unit: str) -> tuple[AgentVersion | None, str]:
    """(version, why) a run of ``team`` for ``unit`` (an end user, a session, a trace) should use:
    the team's pinned version ("pinned"); else the default channel, where a guarded rollout's
    candidate takes its share of units ("candidate", sticky per unit: the share only grows while
    the rollout runs) and the others get stable ("stable")."""
    installation = installation_for_team(team=team, agent=agent) if team is not None else None
    if installation is not None and installation.pinned:
        return installation.version, "pinned"
    version = version_for_run(agent=agent, run_key=unit)
    return version, ("candidate" if version is not None and version.channel == "candidate" else "stable")


def installation_for_team(*, team, agent) -> Installation | None:
    """``team``'s active installation of ``agent`` (its version and the agent's latest selected)."""
    return (
        Installation.objects.filter(team=team, agent=agent, uninstalled_at__isnull=True)
        .select_related("version", "agent__latest_version")
        .first()
    )


def agents_owned_or_installed(*, team, refs) -> dict[object, Agent]:
    """{ref: agent} for the ``refs`` (as ``agents_for_team_bulk`` reads them) that name an agent
    ``team`` owns or has installed now: the agents whose versions it may run (experiments). Two
    queries however many refs."""
    found = agents_for_team_bulk(team=team, refs=refs) if refs else {}
    foreign = {agent.pk for agent in found.values() if agent.team_id != team.pk}
    installed = installed_versions(team=team, agent_ids=foreign) if foreign else {}
    return {ref: agent for ref, agent in found.items() if agent.team_id == team.pk or agent.pk in installed}


def installed_versions(*, team, agent_ids) -> dict[int, AgentVersion | None]:
    """{agent id: the version ``team``'s active installation runs} for those of ``agent_ids`` it
    has installed now, in one query."""
    installs = Installation.objects.filter(team=team, agent_id__in=agent_ids, uninstalled_at__isnull=True)
    return {i.agent_id: i.version for i in installs.select_related("version")}


def versions_ordered_bulk(*, agent_ids) -> dict[int, list[AgentVersion]]:
    """``versions_ordered`` of each of ``agent_ids`` (newest first), in one query."""
    found: dict[int, list[AgentVersion]] = {agent_id: [] for agent_id in agent_ids}
    for version in AgentVersion.objects.filter(agent_id__in=agent_ids).order_by("agent_id", *VERSION_ORDER_DESC):
        found[version.agent_id].append(version)
    return found


def forks_of(*, agent, team_ids) -> QuerySet[Agent]:
    """The forks of ``agent`` a caller with ``team_ids`` may see, newest first."""
    return agent.forks.filter(visible_q(team_ids)).select_related("team").order_by("-created_at", "-id")


def versions_to_compare(*, agent, team, left=None, right=None) -> tuple[AgentVersion, AgentVersion]:
    """(left, right) versions of ``agent`` to diff. Right defaults to the latest version; left to
    ``team``'s installed version when it differs, else the version before the right one.
    ValidationError naming ``from``/``to`` for a version the agent does not have."""
    errors = {}
    new = version_for_agent(agent=agent, version=right or None)
    if new is None:
        errors["to"] = f"This agent has no version '{right}'." if right else "This agent has no version to compare."
    if left:
        old = version_for_agent(agent=agent, version=left)
        if old is None:
            errors["from"] = f"This agent has no version '{left}'."
    elif new is not None:
        installation = installation_for_team(team=team, agent=agent) if team is not None else None
        if installation is not None and installation.version_id != new.pk:
            old = installation.version
        else:
            numbers = versions_ordered(agent=agent).only("major", "minor", "patch", "is_release", "prerelease_key")
            older = next((v.pk for v in numbers if v.sort_tuple < new.sort_tuple), None)
            old = AgentVersion.objects.get(pk=older) if older else new
    if errors:
        raise ValidationError(errors)
    return old, new


def evidence_sharing_team_ids(*, team_ids) -> set[int]:
    """Those of ``team_ids`` that share evidence now (``EvidenceSharing``, off by default); one query."""
    from marketplace.models import EvidenceSharing

    ids = [i for i in team_ids if isinstance(i, int)]
    if not ids:
        return set()
    return set(EvidenceSharing.objects.filter(team_id__in=ids, share_evidence=True).values_list("team_id", flat=True))


# Search and browse live in marketplace.search (re-exported here: the public read API of the app).
from marketplace.search import AgentSearch, CappedPaginator, agent_search, agent_search_count  # noqa: E402, F401
from marketplace.search_evidence import with_search_evidence  # noqa: E402, F401
