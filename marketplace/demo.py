"""Demo data for Marketplace (called by `manage.py seed_demo`): a realistic catalogue.

About forty agents in every category, published by the demo teams and a few community teams,
with version histories (a pre-release, a yanked version), two months of installs by about
twenty-five teams, downloads, ratings with reviews, and open reports in the moderation queue.
Agents and versions go through the services; the install/rating history is bulk-inserted with
counters computed from the same rows, so every figure matches the data behind it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils import timezone

from crucible import services as core_services
from crucible.models import Membership, Role, Team
from marketplace.models import (
    Agent,
    AgentDailyStat,
    AgentVersion,
    Download,
    EvidenceSharing,
    Installation,
    InstallEvent,
    Rating,
)
from marketplace.services.agents import agent_create
from marketplace.services.reports import report_create
from marketplace.services.versions import version_publish, version_yank

COMMUNITY_TEAMS = [
    ("Northwind Digital", True),
    ("Umbrella Systems", False),
    ("Hooli Research", True),
    ("Stark Tooling", False),
    ("Wayne Data", False),
    ("Cyberdyne Ops", False),
    ("Tyrell Apps", False),
    ("Soylent Cloud", False),
    ("Vandelay Imports", False),
    ("Pied Piper", True),
    ("Aperture QA", False),
    ("Black Mesa Labs", False),
    ("Oscorp Mobile", False),
    ("Gringotts Fintech", False),
    ("Monarch Solutions", False),
    ("Dunder Mifflin IT", False),
    ("Prestige Worldwide", False),
    ("Sirius Cybernetics", False),
    ("Massive Dynamic", False),
    ("Virtucon", False),
]

# name, category, tags, summary
CATALOGUE = [
    (
        "Code Reviewer",
        "code-review",
        ["review", "python", "typescript"],
        "Reviews pull requests for bugs, style and risky changes.",
    ),
    (
        "Security Auditor",
        "security",
        ["owasp", "review", "secrets"],
        "Finds injection, auth and secret-handling flaws in diffs.",
    ),
    (
        "Test Writer",
        "testing",
        ["pytest", "jest", "unit-tests"],
        "Writes unit tests that pin down the behaviour of a function.",
    ),
    (
        "Flaky Test Hunter",
        "testing",
        ["ci", "flaky", "pytest"],
        "Reads CI history and isolates tests that fail intermittently.",
    ),
    (
        "Meeting Summarizer",
        "product",
        ["notes", "summaries"],
        "Turns meeting transcripts into decisions and action items.",
    ),
    ("Release Notes Writer", "documentation", ["changelog", "git"], "Drafts release notes from merged pull requests."),
    ("API Doc Generator", "documentation", ["openapi", "docs"], "Writes reference docs from an OpenAPI schema."),
    (
        "SQL Optimizer",
        "data",
        ["sql", "postgresql", "performance"],
        "Rewrites slow SQL and suggests indexes from EXPLAIN plans.",
    ),
    (
        "Data Pipeline Debugger",
        "data",
        ["etl", "airflow", "python"],
        "Explains failing pipeline runs and proposes fixes.",
    ),
    ("Dockerfile Doctor", "devops", ["docker", "containers"], "Shrinks images and fixes layer caching in Dockerfiles."),
    (
        "Kubernetes Troubleshooter",
        "devops",
        ["kubernetes", "k8s", "sre"],
        "Diagnoses crash loops, OOM kills and failing probes.",
    ),
    (
        "Terraform Planner",
        "devops",
        ["terraform", "iac", "aws"],
        "Explains terraform plans and flags destructive changes.",
    ),
    (
        "Incident Scribe",
        "devops",
        ["incident", "postmortem", "sre"],
        "Keeps the incident timeline and drafts the postmortem.",
    ),
    (
        "Refactoring Coach",
        "coding",
        ["refactoring", "clean-code"],
        "Proposes small, safe refactorings with before/after code.",
    ),
    ("Type Hint Adder", "coding", ["python", "typing", "mypy"], "Adds precise type hints to untyped Python modules."),
    (
        "Regex Explainer",
        "coding",
        ["regex", "explain"],
        "Explains a regular expression and writes test strings for it.",
    ),
    (
        "Migration Reviewer",
        "code-review",
        ["django", "migrations", "postgresql"],
        "Checks schema migrations for locking and data-loss risks.",
    ),
    (
        "Accessibility Checker",
        "design",
        ["a11y", "wcag", "html"],
        "Finds WCAG problems in templates and suggests fixes.",
    ),
    ("UX Copy Editor", "design", ["copy", "ux"], "Rewrites interface text to be short, clear and consistent."),
    ("Design Token Linter", "design", ["css", "tokens"], "Finds hard-coded colours and spacing that should be tokens."),
    ("User Story Splitter", "product", ["agile", "stories"], "Splits epics into small, testable user stories."),
    (
        "PRD Critic",
        "product",
        ["requirements", "review"],
        "Finds gaps and contradictions in product requirement documents.",
    ),
    ("Support Triage", "support", ["tickets", "triage"], "Labels incoming tickets and drafts the first reply."),
    ("Bug Report Clarifier", "support", ["bugs", "reproduction"], "Turns vague bug reports into reproducible steps."),
    (
        "Dependency Upgrader",
        "coding",
        ["dependencies", "npm", "pip"],
        "Plans dependency upgrades and reads changelogs for breaking changes.",
    ),
    (
        "License Checker",
        "security",
        ["licenses", "compliance"],
        "Lists dependency licences and flags incompatible ones.",
    ),
    (
        "Threat Modeler",
        "security",
        ["stride", "threat-model"],
        "Builds a STRIDE threat model from an architecture sketch.",
    ),
    ("Log Analyzer", "devops", ["logs", "observability"], "Clusters error logs and points at the likely root cause."),
    ("Commit Message Writer", "coding", ["git", "commits"], "Writes conventional commit messages from a staged diff."),
    (
        "Onboarding Guide",
        "documentation",
        ["onboarding", "docs"],
        "Answers newcomers' questions from the repository's docs.",
    ),
    (
        "Spreadsheet Analyst",
        "data",
        ["csv", "pandas", "analysis"],
        "Summarises a CSV and charts the interesting columns.",
    ),
    (
        "Schema Designer",
        "data",
        ["postgresql", "modeling"],
        "Designs normalised tables and constraints from a description.",
    ),
    ("Load Test Planner", "testing", ["k6", "performance"], "Writes load test scenarios from traffic patterns."),
    ("E2E Test Author", "testing", ["playwright", "e2e"], "Writes Playwright tests from a user journey."),
    (
        "Changelog Linter",
        "documentation",
        ["changelog", "semver"],
        "Checks changelogs against semantic versioning rules.",
    ),
    ("Prompt Polisher", "other", ["prompts", "llm"], "Tightens prompts and adds examples that fix failure cases."),
    ("Cost Estimator", "other", ["cloud", "finops"], "Estimates the monthly cloud cost of an architecture."),
    (
        "Interview Question Writer",
        "other",
        ["hiring", "interviews"],
        "Writes practical interview exercises for a role.",
    ),
]
PRIVATE = {"Incident Scribe": "acme", "Schema Designer": "globex", "Onboarding Guide": "initech"}
# Version histories that other apps' demo stories rely on: (version, published days ago). The
# observability demo shows Code Reviewer slowing down with 2.4.0, published six days ago.
STORY_VERSIONS = {"Code Reviewer": [("2.2.0", 260), ("2.3.0", 90), ("2.4.0", 6)]}
# Other agents: first version 200-320 days ago (before the half year of team memory builds), later
# versions spread up to a month ago; installs (the last 60 days) pick a version published by then.
FIRST_VERSION_DAYS = (200, 320)
LAST_VERSION_DAYS = 30
REVIEWS = {
    5: ["Saves us hours every week.", "Exactly what we needed.", "Best agent we installed this quarter.", ""],
    4: ["Very good, a few misses on edge cases.", "Solid; the output schema is handy.", ""],
    3: ["Useful but needs careful prompts.", "OK for simple cases.", ""],
    2: ["Often misses the point.", "Too verbose for our taste."],
    1: ["Did not work for our stack.", "Hallucinates file names."],
}
INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "input": {"type": "string", "description": "What the agent works on"},
        "context": {"type": "string"},
    },
    "required": ["input"],
}
OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {"result": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
    "required": ["result"],
}
MODELS = ["gpt-4o", "claude-sonnet", "llama-3-70b", "mistral-large"]


def _description(name: str, summary: str, tags: list[str]) -> str:
    return (
        f"## {name}\n\n{summary}\n\n"
        "### What it does\n\n"
        f"- Works on {', '.join(tags)} tasks\n- Returns structured output (see the output schema)\n"
        "- Explains its reasoning briefly, never at length\n\n"
        '### Example\n\n```\n{"input": "..."}\n```\n'
    )


def _date_versions(agent: Agent, *, story, rng, now) -> None:
    """Publication dates in the past, oldest version first (the services stamp "now"); the agent
    was created with its first version and last changed with its newest."""
    versions = list(AgentVersion.objects.filter(agent=agent).order_by("created_at", "pk"))
    if story:
        days_ago = [days for _, days in story]
    else:
        first = rng.uniform(*FIRST_VERSION_DAYS)
        step = (first - LAST_VERSION_DAYS) / max(1, len(versions) - 1)
        days_ago = [first - i * step * rng.uniform(0.7, 1.0) for i in range(len(versions))]
    for version, days in zip(versions, days_ago, strict=True):
        # Story dates are exact (the observability demo's regression starts at that moment).
        version.created_at = now - timedelta(days=days, minutes=0 if story else rng.randint(0, 600))
    AgentVersion.objects.bulk_update(versions, ["created_at"])
    Agent.objects.filter(pk=agent.pk).update(created_at=versions[0].created_at, updated_at=versions[-1].created_at)


def _publish_agent(*, index, name, category, tags, summary, publisher, author, rng, now) -> Agent:
    """One catalogue agent with its version history (through the services), dated in the past."""
    major = rng.choice([0, 1, 1, 1, 2])
    story = STORY_VERSIONS.get(name)
    agent = agent_create(
        team=publisher,
        name=name,
        summary=summary,
        description=_description(name, summary, tags),
        category=category,
        tags=tags,
        visibility="private" if name in PRIVATE else "public",
        version=story[0][0] if story else f"{major}.{rng.randint(0, 3)}.0",
        system_prompt=f"You are {name}, an assistant for software teams. {summary} Answer concisely.",
        input_schema=INPUT_SCHEMA,
        output_schema=OUTPUT_SCHEMA,
        model_hints={"model": rng.choice(MODELS), "temperature": rng.choice([0, 0.2, 0.5])},
        created_by=author,
    )
    for step in range(len(story) - 1 if story else rng.randint(0, 4)):
        kind = rng.random()
        latest = agent.latest_version
        if story:
            version = story[step + 1][0]
        elif kind < 0.2:
            version = f"{latest.major}.{latest.minor}.{latest.patch + 1}"
        elif kind < 0.3:
            version = f"{latest.major + 1}.0.0-beta.1"
        else:
            version = None  # the next minor version
        version_publish(
            agent=agent,
            system_prompt=f"You are {name} (revision {step + 2}). {summary} Be precise and brief.",
            version=version,
            changelog=rng.choice(
                [
                    "Fewer hallucinated paths.",
                    "Shorter answers.",
                    "Handles larger inputs.",
                    "New output field: confidence.",
                ]
            ),
            published_by=author,
        )
    _date_versions(agent, story=story, rng=rng, now=now)
    if index % 9 == 4 and agent.versions.count() > 1:
        version_yank(version=agent.latest_version, reason="Regression: ignores the output schema on long inputs.")
        yanked = agent.versions.get(is_yanked=True)
        yanked_at = yanked.created_at + timedelta(days=2)
        AgentVersion.objects.filter(pk=yanked.pk).update(yanked_at=yanked_at)
        Agent.objects.filter(pk=agent.pk).update(updated_at=yanked_at)
    agent.refresh_from_db()
    return agent


def seed(ctx) -> None:
    rng = ctx.rng
    now = timezone.now()
    community = _community_teams()
    demo_teams = list(ctx.teams.values())
    publishers = demo_teams + community[:5]
    installers = demo_teams + community
    user_teams = defaultdict(set)
    for user_id, team_id in Membership.objects.values_list("user_id", "team_id"):
        user_teams[user_id].add(team_id)
    team_users = defaultdict(list)
    for membership in Membership.objects.filter(
        team__in=installers, role__in=[Role.MEMBER, Role.ADMIN, Role.OWNER]
    ).select_related("user"):
        team_users[membership.team_id].append(membership.user)

    agents = _publish_catalogue(ctx, publishers=publishers, team_users=team_users, now=now)

    # Install history over 60 days, ratings and downloads: bulk inserts, counters derived from them.
    versions_by_agent = defaultdict(list)
    for version in AgentVersion.objects.filter(agent__in=agents).order_by("created_at"):
        versions_by_agent[version.agent_id].append(version)
    history = _History(rng=rng, now=now, team_users=team_users, user_teams=user_teams)
    with ctx.progress(len(agents), "Marketplace installs") as bar:
        for agent in agents:
            history.agent(agent, versions_by_agent[agent.pk], installers)
            bar.update(1)
    unique_ratings = history.write()
    _derive_counters(agents, unique_ratings)
    _moderation_queue(ctx, agents)
    # The demo teams share their measured evidence (observability's demo executions feed it).
    EvidenceSharing.objects.bulk_create(
        [EvidenceSharing(team=team, share_evidence=True) for team in demo_teams], ignore_conflicts=True
    )


def _community_teams() -> list:
    """Community teams (publishers and installers) with one user each, created in bulk."""
    User = get_user_model()
    community = []
    for name, verified in COMMUNITY_TEAMS:
        slug = "c-" + name.lower().replace(" ", "-")
        team = Team.objects.filter(slug=slug).first() or core_services.team_create(
            name=name, slug=slug, is_verified=verified
        )
        community.append(team)
    new_users = []
    for team in community:
        username = f"{team.slug[2:].split('-')[0]}-dev"
        if not User.objects.filter(username=username).exists():
            user = User(username=username, email=f"{username}@example.com")
            user.set_unusable_password()
            new_users.append(user)
    User.objects.bulk_create(new_users)
    memberships = []
    for team in community:
        user = User.objects.get(username=f"{team.slug[2:].split('-')[0]}-dev")
        if not Membership.objects.filter(user=user, team=team).exists():
            memberships.append(Membership(user=user, team=team, role=Role.MEMBER))
    Membership.objects.bulk_create(memberships)
    return community


def _publish_catalogue(ctx, *, publishers, team_users, now) -> list:
    """Agents and versions, through the services (validation, Markdown, search column)."""
    agents = []
    with ctx.progress(len(CATALOGUE), "Marketplace agents") as bar:
        for index, (name, category, tags, summary) in enumerate(CATALOGUE):
            publisher = ctx.teams[PRIVATE[name]] if name in PRIVATE else publishers[index % len(publishers)]
            owners = team_users.get(publisher.pk) or [None]
            agent = _publish_agent(
                index=index,
                name=name,
                category=category,
                tags=tags,
                summary=summary,
                publisher=publisher,
                author=owners[0],
                rng=ctx.rng,
                now=now,
            )
            agents.append(agent)
            bar.update(1)
    return agents


class _History:
    """Installs (with uninstalls), downloads and ratings drawn per agent and team, then written
    in bulk with their historical times."""

    def __init__(self, *, rng, now, team_users, user_teams):
        self.rng, self.now, self.today = rng, now, now.date()
        self.team_users, self.user_teams = team_users, user_teams
        self.installations, self.events, self.ratings, self.downloads = [], [], [], []
        self.daily = defaultdict(Counter)

    def agent(self, agent, versions, installers) -> None:
        rng = self.rng
        popularity = rng.betavariate(1.2, 2.5)
        quality = rng.uniform(2.6, 4.9)
        trending = rng.random() < 0.2
        candidates = [] if agent.visibility == "private" else [t for t in installers if t.pk != agent.team_id]
        for team in candidates:
            if rng.random() <= popularity:
                self.install(agent, versions, team, quality=quality, trending=trending)

    def install(self, agent, versions, team, *, quality, trending) -> None:
        rng, now = self.rng, self.now
        age = rng.randint(0, 6) if trending and rng.random() < 0.7 else rng.randint(0, 59)
        when = timezone.make_aware(
            datetime.combine(self.today - timedelta(days=age), time(rng.randint(7, 20), rng.randint(0, 59)))
        )
        # Never in the future (early in the UTC day, today's working hours are still ahead).
        when = min(when, now - timedelta(minutes=rng.randint(5, 120)))
        published = [v for v in versions if v.created_at <= when]
        choices = [v for v in published if not v.is_yanked and v.is_release] or published
        version = choices[-1] if rng.random() < 0.7 else rng.choice(choices)
        uninstalled = when + timedelta(days=rng.randint(1, 20)) if rng.random() < 0.1 else None
        if uninstalled and uninstalled > now:
            uninstalled = None
        self.installations.append(
            Installation(
                team=team, agent=agent, version=version, installed_at=when, updated_at=when, uninstalled_at=uninstalled
            )
        )
        self.events.append(InstallEvent(agent=agent, team=team, version=version, kind="install", created_at=when))
        self.daily[(agent.pk, when.date())]["installs"] += 1
        if uninstalled:
            self.events.append(
                InstallEvent(agent=agent, team=team, version=version, kind="uninstall", created_at=uninstalled)
            )
            self.daily[(agent.pk, uninstalled.date())]["uninstalls"] += 1
        for offset in sorted(rng.sample(range(0, age + 1), k=min(age + 1, rng.randint(1, 6)))):
            day = when.date() + timedelta(days=offset)
            self.downloads.append(Download(team=team, version=version, day=day))
            self.daily[(agent.pk, day)]["downloads"] += 1
        self.rate(agent, team, when, quality=quality)

    def rate(self, agent, team, when, *, quality) -> None:
        rng, now = self.rng, self.now
        for user in self.team_users.get(team.pk, []):
            if rng.random() < 0.65 and agent.team_id not in self.user_teams[user.pk]:
                stars = max(1, min(5, round(rng.gauss(quality, 0.9))))
                rated = when + min(timedelta(days=25), now - when) * rng.uniform(0.05, 1.0)
                self.ratings.append(
                    Rating(
                        agent=agent,
                        user=user,
                        team=team,
                        stars=stars,
                        review=rng.choice(REVIEWS[stars]),
                        created_at=rated,
                        updated_at=rated,
                    )
                )

    def write(self) -> list:
        """Bulk inserts; auto_now_add stamps "now" on bulk_create, so the historical times are put
        back afterwards. Returns the ratings written (one per agent and user)."""
        installations, events = self.installations, self.events
        install_times = [i.installed_at for i in installations]
        event_times = [e.created_at for e in events]
        Installation.objects.bulk_create(installations)
        InstallEvent.objects.bulk_create(events)
        for installation, when in zip(installations, install_times, strict=True):
            installation.installed_at = installation.updated_at = when
        for event, when in zip(events, event_times, strict=True):
            event.created_at = when
        Installation.objects.bulk_update(installations, ["installed_at", "updated_at"], batch_size=500)
        InstallEvent.objects.bulk_update(events, ["created_at"], batch_size=500)
        seen = set()
        unique_ratings = []
        for rating in self.ratings:
            if (rating.agent_id, rating.user_id) not in seen:
                seen.add((rating.agent_id, rating.user_id))
                unique_ratings.append(rating)
        rating_times = [r.created_at for r in unique_ratings]
        Rating.objects.bulk_create(unique_ratings)
        for rating, when in zip(unique_ratings, rating_times, strict=True):
            rating.created_at = rating.updated_at = when
        Rating.objects.bulk_update(unique_ratings, ["created_at", "updated_at"], batch_size=500)
        Download.objects.bulk_create(self.downloads, ignore_conflicts=True)
        AgentDailyStat.objects.bulk_create(
            [AgentDailyStat(agent_id=agent_id, day=day, **counts) for (agent_id, day), counts in self.daily.items()]
        )
        return unique_ratings


def _derive_counters(agents, unique_ratings) -> None:
    """Counters from the rows just written (one grouped query per table)."""
    installs = {
        row["agent"]: row
        for row in Installation.objects.filter(agent__in=agents)
        .values("agent")
        .annotate(total=Count("pk"), active=Count("pk", filter=Q(uninstalled_at__isnull=True)))
    }
    download_counts = Counter()
    version_downloads = Counter()
    for row in (
        Download.objects.filter(version__agent__in=agents)
        .values("version_id", "version__agent_id")
        .annotate(n=Count("pk"))
    ):
        download_counts[row["version__agent_id"]] += row["n"]
        version_downloads[row["version_id"]] += row["n"]
    histograms = defaultdict(Counter)
    for rating in unique_ratings:
        histograms[rating.agent_id][rating.stars] += 1
    for agent in agents:
        hist = histograms[agent.pk]
        agent.install_count = installs.get(agent.pk, {}).get("total", 0)
        agent.active_install_count = installs.get(agent.pk, {}).get("active", 0)
        agent.download_count = download_counts[agent.pk]
        agent.rating_count = sum(hist.values())
        agent.rating_sum = sum(stars * count for stars, count in hist.items())
        for stars in range(1, 6):
            setattr(agent, f"rating_{stars}", hist[stars])
    Agent.objects.bulk_update(
        agents,
        ["install_count", "active_install_count", "download_count", "rating_count", "rating_sum"]
        + [f"rating_{stars}" for stars in range(1, 6)],
    )
    versions = AgentVersion.objects.filter(pk__in=list(version_downloads))
    for version in versions:
        version.download_count = version_downloads[version.pk]
    AgentVersion.objects.bulk_update(versions, ["download_count"])


def _moderation_queue(ctx, agents) -> None:
    """A few reports waiting in the moderation queue."""
    public = [a for a in agents if a.visibility == "public"]
    reporter = ctx.users.get("bob")
    if public and reporter is not None:
        report_create(
            agent=public[-1],
            reporter=reporter,
            team=ctx.teams["acme"],
            reason="misleading",
            text="The description promises cost figures it never produces.",
        )
        some_rating = Rating.objects.filter(agent__in=public, stars__lte=2).exclude(review="").first()
        if some_rating is not None:
            report_create(
                agent=some_rating.agent,
                rating=some_rating,
                reporter=reporter,
                team=ctx.teams["acme"],
                reason="offensive",
                text="Rude review.",
            )
