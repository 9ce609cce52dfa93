"""Demo data for Team memory (called by `manage.py seed_demo`): half a year of builds per team across
several stacks, with a visible trend (Acme improves, Globex slips, Initech holds steady), builds
that name the agent version published at the time, recurring errors, a flaky stack and a slow one.

Rows go in with bulk_create (the generated search and hash columns are filled by PostgreSQL), then
the daily rollups are rebuilt from them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from marketplace import selectors as marketplace_selectors
from teammemory import services
from teammemory.models import Build, BuildAgent, BuildError
from teammemory.stacks import normalize_stack, stack_components, stack_key

STACKS = {
    "django": {"language": "Python", "framework": "Django", "database": "PostgreSQL", "hosting": "AWS"},
    "fastapi": {"language": "Python", "framework": "FastAPI", "database": "Postgres", "hosting": "Fly.io"},
    "next": {"language": "TypeScript", "framework": "Next.js", "database": "PostgreSQL", "hosting": "Vercel"},
    "express": {"language": "TypeScript", "framework": "Express", "database": "MongoDB", "frontend": "React"},
    "go": {"language": "Go", "framework": "Gin", "database": "PostgreSQL", "hosting": "Kubernetes"},
    "rails": {"language": "Ruby", "framework": "Rails", "database": "MySQL", "hosting": "Heroku"},
}

PROJECTS = [
    # name, requirements, stacks that teams pick for it
    (
        "invoicing-api",
        "REST API for invoices and payments with PDF export, Stripe webhooks and email reminders",
        ["django", "fastapi", "express"],
    ),
    (
        "customer-portal",
        "Customer portal with login, profile pages, order history and a React dashboard",
        ["next", "django", "rails"],
    ),
    (
        "inventory-sync",
        "Background jobs that sync warehouse inventory from a CSV feed every hour, with retries",
        ["go", "fastapi", "django"],
    ),
    (
        "chat-support",
        "Realtime support chat with websockets, typing indicators and message history search",
        ["express", "next", "go"],
    ),
    (
        "analytics-etl",
        "ETL pipeline loading events into a reporting database with daily aggregates and charts",
        ["fastapi", "go", "django"],
    ),
    (
        "marketing-site",
        "Marketing site with a blog, CMS editing, SEO metadata and a newsletter signup form",
        ["next", "rails"],
    ),
    (
        "auth-service",
        "Authentication service with OAuth login, two-factor codes, sessions and audit logs",
        ["go", "django", "express"],
    ),
    (
        "mobile-backend",
        "Backend for a mobile app: push notifications, image uploads and a GraphQL API",
        ["express", "fastapi", "rails"],
    ),
]

ERRORS = [
    ("TestFailure", "assertion failed in {m}: expected 200, got 500"),
    ("DependencyConflict", "could not resolve versions for {m}"),
    ("Timeout", "step '{m}' exceeded 600 s"),
    ("TypeError", "unsupported operand in {m}"),
    ("MigrationError", "migration {m} conflicts with an existing column"),
    ("LintError", "{m}: line too long"),
]
EXTRAS = [
    "add an admin screen",
    "support CSV export",
    "add audit logging",
    "make it multi-tenant",
    "add rate limiting",
    "support dark mode",
    "add a health endpoint",
    "translate into German",
    "add role-based access",
    "add webhooks",
]
STEP_NAMES = ["build", "test", "deploy", "migrate", "lint", "package"]

# Per team: builds per day, quality at the start and end of the period, success odds per stack.
PLAN = {
    "acme": {
        "per_day": 14,
        "quality": (62, 84),
        "stacks": {"django": 0.9, "next": 0.85, "go": 0.8, "rails": 0.45, "fastapi": 0.88},
    },
    "globex": {
        "per_day": 7,
        "quality": (82, 64),
        "stacks": {"express": 0.82, "next": 0.8, "fastapi": 0.86, "go": 0.75},
    },
    "initech": {"per_day": 3, "quality": (74, 74), "stacks": {"django": 0.85, "rails": 0.8, "express": 0.78}},
}
DAYS = 180


def _agents_for(team):
    """The team's own marketplace agents with their versions, oldest version first."""
    return marketplace_selectors.agents_with_versions(team=team, limit=4)


def seed(ctx) -> None:
    """Fill the app with realistic data for the demo teams in ``ctx``."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = now - dt.timedelta(days=DAYS)
    # One step per team and day: the number of builds is only known once they are drawn.
    total = DAYS * sum(1 for slug in PLAN if slug in ctx.teams)
    with ctx.progress(total, "Team memory builds (days)") as bar:
        for slug, plan in PLAN.items():
            team = ctx.teams.get(slug)
            if team is not None:
                _seed_team(ctx, slug, plan, team, start=start, now=now, bar=bar)


class _BuildDrawer:
    """Draws one team's builds: quality drifts from ``plan['quality'][0]`` to ``[1]`` over the period."""

    def __init__(self, ctx, slug, plan, team, *, start):
        self.rng, self.slug, self.plan, self.team, self.start = ctx.rng, slug, plan, team, start
        self.members = [u for u in ctx.users.values() if u.memberships.filter(team=team).exists()]
        self.builds: list[Build] = []

    def add(self, project, requirements, stack_name, status, started):
        rng = self.rng
        q0, q1 = self.plan["quality"]
        minutes = rng.lognormvariate(2.4, 0.45) * (2.6 if stack_name == "rails" else 1.0)
        progress = (started - self.start) / dt.timedelta(days=DAYS)
        base_quality = q0 + (q1 - q0) * progress
        quality = (
            None
            if status == "cancelled"
            else max(0, min(100, round(rng.gauss(base_quality - (22 if status == "failed" else 0), 7))))
        )
        tokens = int(rng.lognormvariate(10.8, 0.5))
        stack = STACKS[stack_name]
        normalized = normalize_stack(stack)
        self.builds.append(
            Build(
                team=self.team,
                client_build_id=f"demo-{self.slug}-{len(self.builds) + 1:06d}",
                project_name=project,
                requirements=requirements,
                stack=stack,
                components=stack_components(normalized),
                stack_key=stack_key(normalized),
                status=status,
                quality=quality,
                started_at=started,
                finished_at=started + dt.timedelta(minutes=minutes),
                duration_ms=int(minutes * 60_000),
                tokens=tokens,
                cost=(Decimal(tokens) * Decimal("0.000004")).quantize(Decimal("0.000001")),
                reported_by=rng.choice(self.members) if self.members else None,
            )
        )

    def day(self, day: int, *, now) -> None:
        rng, plan, slug = self.rng, self.plan, self.slug
        progress = day / (DAYS - 1)
        for _ in range(max(1, round(rng.gauss(plan["per_day"], plan["per_day"] * 0.25)))):
            project, requirements, choices = rng.choice(PROJECTS)
            stack_name = rng.choice([c for c in choices if c in plan["stacks"]] or list(plan["stacks"]))
            odds = plan["stacks"][stack_name]
            if slug == "globex":
                odds -= 0.2 * progress  # slipping together with quality
            if slug == "acme":
                odds += 0.08 * progress
            started = self.start + dt.timedelta(days=day, minutes=rng.randrange(0, 24 * 60))
            if started > now:
                continue
            # Each build is a new piece of work (its own ticket) ...
            requirements = f"{requirements} Ticket {slug.upper()}-{len(self.builds) + 1}: {rng.choice(EXTRAS)}."
            roll = rng.random()
            status = "cancelled" if roll < 0.03 else ("succeeded" if roll < 0.03 + odds * 0.97 else "failed")
            self.add(project, requirements, stack_name, status, started)
            self.retries(project, requirements, stack_name, status, started, now=now)

    def retries(self, project, requirements, stack_name, status, started, *, now) -> None:
        """Retries of a failed build, hours later with the same requirements. Go builds are the
        flaky ones: their retries pass or fail at random, again and again."""
        rng = self.rng
        count = (
            rng.randint(2, 4)
            if stack_name == "go" and rng.random() < 0.12
            else (1 if status == "failed" and rng.random() < 0.3 else 0)
        )
        for attempt in range(count):
            started += dt.timedelta(minutes=rng.randrange(30, 240))
            if started > now:
                break
            if stack_name == "go":
                retry_status = "failed" if attempt % 2 == 0 else "succeeded"
            else:
                retry_status = "succeeded" if rng.random() < 0.35 else "failed"  # most failures are real
            self.add(project, requirements, stack_name, retry_status, started)


def _seed_team(ctx, slug, plan, team, *, start, now, bar) -> None:
    rng = ctx.rng
    agents = _agents_for(team)
    drawer = _BuildDrawer(ctx, slug, plan, team, start=start)
    for day in range(DAYS):
        drawer.day(day, now=now)
        bar.update(1)
    builds = drawer.builds
    agent_rows, error_rows = [], []
    Build.objects.bulk_create(builds, batch_size=2000)
    for build in builds:
        if agents:
            agent, versions = agents[build.pk % len(agents)]
            # The newest version published when the build started (the first one before it).
            published = [v for v in versions if v.created_at <= build.started_at]
            version = published[-1] if published else (versions[0] if versions else None)
            agent_rows.append(BuildAgent(build=build, agent=agent, agent_version=version))
        if build.status == "failed" or (build.status == "succeeded" and rng.random() < 0.08):
            weights = [5, 2, 3, 1, 1, 1] if build.stack_key.startswith("ruby") else [5, 3, 2, 1, 1, 2]
            for error_type, template in rng.choices(ERRORS, weights=weights, k=rng.choice([1, 1, 2])):
                error_rows.append(
                    BuildError(build=build, error_type=error_type, message=template.format(m=rng.choice(STEP_NAMES)))
                )
    BuildAgent.objects.bulk_create(agent_rows, batch_size=5000, ignore_conflicts=True)
    BuildError.objects.bulk_create(error_rows, batch_size=5000)
    # Bulk inserts bypass build_record: recompute the team's daily rollups in one go.
    services.rollups_rebuild_all(teams=[team])
