"""The evidence loop end to end (issue 13's "done when"): a team publishes an agent; three other
teams opt in to evidence sharing and run it; the evidence appears to a fourth team as a spread,
never naming them; a new version is published and the installing team is told; its upgrade
advisor shows the diff and starts a "current against new" experiment on its own traffic; the
winner becomes its pinned version, and the experiment's outcome joins the version's evidence."""

import random

import pytest
from django.test import Client

from crucible.models import Role
from crucible.notifications.models import Event
from improvement import services as improvement_services
from marketplace import conf as marketplace_conf
from marketplace import services as marketplace_services
from marketplace.models import Installation
from tests.marketplace.evidence_helpers import run_version

pytestmark = pytest.mark.django_db


def test_publish_share_run_evidence_upgrade_experiment_pin(make_team, make_user, client_for, key_client, monkeypatch):
    monkeypatch.setattr(marketplace_conf, "EVIDENCE_MIN_TEAMS", 3)
    publisher = make_team("Publisher", slug="publisher")
    author = make_user("author", team=publisher)
    agent = marketplace_services.agent_create(
        team=publisher, name="Reviewer", system_prompt="Review.", model_hints={"model": "big"}, created_by=author
    )
    first = agent.latest_version

    adopter = make_team("Adopter", slug="adopter")
    adopter_user = make_user("adopter", team=adopter)
    api = key_client(adopter, user=adopter_user)
    assert api.post(f"/api/v1/marketplace/agents/{agent.pk}/install/", {}, format="json").status_code in (200, 201)
    evidence_url = f"/api/v1/marketplace/versions/{first.pk}/evidence/"

    runners = [make_team(f"Runner {i}", slug=f"runner-{i}") for i in range(3)]
    for i, team in enumerate(runners):
        admin = make_user(f"runner-admin-{i}", team=team, role=Role.ADMIN)
        opted = client_for(admin).put(
            "/api/v1/marketplace/evidence-sharing/",
            {"share_evidence": True},
            format="json",
            HTTP_X_CRUCIBLE_TEAM=team.slug,
        )
        assert opted.status_code == 200, opted.json()
        run_version(team, first, runs=20, failures=i + 1)
        others = api.get(evidence_url).json()["others"]["success_rate"]
        # Below three teams nothing of theirs shows; at three, a spread naming nobody.
        assert others == (None if i < 2 else {"min": 0.85, "median": 0.9, "max": 0.95, "teams": 3})
    body = api.get(evidence_url).content.decode()
    assert not any(team.slug in body or team.name in body for team in runners)

    second = marketplace_services.version_publish(
        agent=agent, system_prompt="Review <carefully>.", changelog="Careful.", model_hints={"model": "small"}
    )
    assert Event.objects.filter(team=adopter, kind="marketplace.version_published").count() == 1
    web = Client()
    web.force_login(adopter_user)
    assert f"{second.version} available" in web.get("/marketplace/installed/").content.decode()
    diff = api.get(f"/api/v1/marketplace/agents/{agent.pk}/diff/", {"from": "1.0.0", "to": "1.1.0"}).json()
    changed = {f["field"] for f in diff["fields"] if f["changed"]}
    assert {"system_prompt", "model_hints"} <= changed

    started = api.post(
        "/api/v1/improvement/experiments/try-version/", {"agent": f"publisher/{agent.slug}"}, format="json"
    )
    assert started.status_code == 201, started.json()
    experiment = started.json()
    versions = {v["name"]: (v["is_control"], v["version_label"]) for v in experiment["variants"]}
    assert sorted(label for _, label in versions.values()) == ["1.0.0", "1.1.0"]
    assert [label for is_control, label in versions.values() if is_control] == ["1.0.0"]
    assert experiment["guardrail_error_margin"] is not None  # the default guardrails hold

    selection = api.post("/api/v1/improvement/select/", {"experiment": experiment["name"]}, format="json").json()
    assert selection["variant"]["agent_version"]["version"] in ("1.0.0", "1.1.0")  # what the caller runs
    rng = random.Random(3)
    results = []
    for _ in range(400):
        chosen = improvement_services.experiment_select(team_ids=[adopter.pk], experiment_id=experiment["id"], rng=rng)
        good = chosen.variant.version_label == "1.1.0"
        results.append(
            {
                "assignment_id": chosen.assignment_id,
                "success": rng.random() < (0.97 if good else 0.6),
                "duration_ms": 1000,
                "quality": 90 if good else 50,
                "tokens": 100,
                "cost": 0.001,
            }
        )
    assert api.post("/api/v1/improvement/results/batch/", {"results": results}, format="json").status_code == 201
    concluded = api.post(
        f"/api/v1/improvement/experiments/{experiment['id']}/conclude/", {"promote": True}, format="json"
    )
    assert concluded.status_code == 200, concluded.json()
    assert concluded.json()["promoted_as"] == "pinned"
    installation = Installation.objects.get(team=adopter, agent=agent, uninstalled_at__isnull=True)
    assert installation.version == second and installation.pinned
    won = api.get(f"/api/v1/marketplace/versions/{second.pk}/evidence/").json()["experiments"]["own"]
    assert [row["outcome"] for row in won] == ["won"]
