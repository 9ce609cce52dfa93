"""Seed a server database for the fault, concurrency and load runs; prints JSON with ids and keys.

Run as ``python tests/hardening/stack_setup.py N_TEAMS`` with DATABASE_URL (or CRUCIBLE_DB_NAME)
pointing at a migrated database. Everything goes through the apps' services.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")


def main(n_teams: int) -> dict:
    import django

    django.setup()
    from crucible import services as core
    from crucible.models import Role
    from improvement import services as imp
    from marketplace import services as mp

    publisher_team = core.team_create(name="Publisher", slug="publisher")
    publisher = core.user_create(username="publisher", password="pw-stack-123")
    core.membership_set(team=publisher_team, user=publisher, role=Role.OWNER)
    agents = [
        mp.agent_create(
            team=publisher_team,
            name=f"Helper {i}",
            slug=f"helper-{i}",
            system_prompt="You help.",
            summary=f"Helps with task {i}: code review, tests and docs",
            tags=["review", f"t{i}"],
            visibility="public",
            created_by=publisher,
        )
        for i in range(5)
    ]
    teams = []
    for i in range(n_teams):
        team = core.team_create(name=f"Team {i}", slug=f"team-{i}")
        user = core.user_create(username=f"user{i}", password="pw-stack-123")
        core.membership_set(team=team, user=user, role=Role.OWNER)
        _, key = core.api_key_create(team=team, name="stack", role=Role.MEMBER, created_by=user)
        experiment = imp.experiment_create(
            team=team,
            name="prompt-test",
            created_by=user,
            variants=[
                {"name": "control", "prompt": "Be helpful.", "is_control": True},
                {"name": "terse", "prompt": "Be brief."},
            ],
            status="running",
        )
        teams.append(
            {
                "slug": team.slug,
                "key": key,
                "user": f"user{i}",
                "experiment": experiment.name,
                "variants": list(experiment.variants.values_list("pk", flat=True)),
            }
        )
    return {"agents": [a.pk for a in agents], "agent_slugs": [f"publisher/{a.slug}" for a in agents], "teams": teams}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)))
