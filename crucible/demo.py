"""The demo data set: teams, users and keys here; each app adds its own through ``<app>.demo.seed``.

Deterministic (a seeded random generator), so two fresh installs show the same numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from tqdm import tqdm

from crucible import services
from crucible.models import Role, Team

DEMO_PASSWORD = "crucible-demo"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "crucible-admin"

TEAMS = [
    # slug, name, verified
    ("acme", "Acme Robotics", True),
    ("globex", "Globex Labs", False),
    ("initech", "Initech Platform", False),
]
USERS = [
    # username, {team slug: role}
    ("alice", {"acme": Role.OWNER, "globex": Role.MEMBER}),
    ("bob", {"acme": Role.MEMBER}),
    ("carol", {"acme": Role.VIEWER, "initech": Role.OWNER}),
    ("dave", {"globex": Role.OWNER}),
    ("erin", {"globex": Role.ADMIN, "initech": Role.MEMBER}),
]


@dataclass
class DemoContext:
    teams: dict[str, Team]
    users: dict[str, object]
    rng: random.Random
    keys: dict[str, str] = field(default_factory=dict)
    quiet: bool = False

    def progress(self, total: int, desc: str) -> tqdm:
        """A progress bar for one step of an app's seeding: ``with ctx.progress(n, "Agents") as bar``."""
        return tqdm(total=total, desc=f"{desc:<28}", unit="", disable=self.quiet, leave=True, dynamic_ncols=True)


def accounts_with_published_passwords() -> list[str]:
    """Demo accounts (the README publishes their passwords) whose password still works."""
    User = get_user_model()
    published = {username: DEMO_PASSWORD for username, _ in USERS} | {ADMIN_USERNAME: ADMIN_PASSWORD}
    users = User.objects.filter(username__in=published, is_active=True).order_by("username")
    return [user.username for user in users if user.check_password(published[user.username])]


def is_seeded() -> bool:
    return Team.objects.filter(slug=TEAMS[0][0]).exists()


def seed_core(*, quiet: bool = False) -> DemoContext:
    User = get_user_model()
    teams = {}
    for slug, name, verified in TEAMS:
        teams[slug] = services.team_create(name=name, slug=slug, is_verified=verified)
    users = {}
    for username, memberships in USERS:
        user = services.user_create(username=username, password=DEMO_PASSWORD, email=f"{username}@example.com")
        for slug, role in memberships.items():
            services.membership_set(team=teams[slug], user=user, role=role)
        users[username] = user
    if not User.objects.filter(username=ADMIN_USERNAME).exists():
        services.user_create(username=ADMIN_USERNAME, password=ADMIN_PASSWORD, is_superuser=True)
    ctx = DemoContext(teams=teams, users=users, rng=random.Random(20261125), quiet=quiet)
    for slug in teams:
        _, raw = services.api_key_create(
            team=teams[slug], name="demo key", created_by=users["alice"] if slug == "acme" else None
        )
        ctx.keys[slug] = raw
    return ctx
