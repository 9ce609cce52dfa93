"""A guarded rollout reads installing teams' runs too: only of teams that share evidence, only
once K of them ran its versions, pooled and never named (the evidence rules hold for the
publisher's rollout as for every other path)."""

import pytest

from improvement import services
from improvement.models import Rollout
from improvement.trust import rollout_figures
from marketplace import conf as marketplace_conf
from marketplace import services as marketplace_services
from marketplace.models import Agent, AgentVersion
from tests.improvement.test_rollout_feed import _executions
from tests.marketplace.evidence_helpers import share

pytestmark = pytest.mark.django_db


@pytest.fixture
def rollout(make_experiment, team):
    created = marketplace_services.agent_create(
        team=team, name="Support bot", slug="support-bot", system_prompt="Old prompt.", visibility="public"
    )
    agent = Agent.objects.get(pk=created.pk)
    experiment = make_experiment("rollout", variants=("control", "better"), agent=agent)
    experiment = services.experiment_conclude(experiment=experiment, winner=experiment.variants.get(name="better"))
    return services.rollout_start(experiment=experiment)


@pytest.fixture
def installers(make_team, rollout, monkeypatch):
    monkeypatch.setattr(marketplace_conf, "EVIDENCE_MIN_TEAMS", 3)
    teams = [make_team(f"Installer {i}", slug=f"installer-{i}") for i in range(4)]
    for team in teams:
        marketplace_services.agent_install(agent=rollout.agent, team=team)
    return teams


def _runs(rollout):
    figures = rollout_figures(rollout=rollout)
    return figures["stable"].results + figures["candidate"].results


def test_sharing_installers_runs_count_once_k_teams_ran_it(rollout, installers):
    for i, team in enumerate(installers[:2]):
        share(team)
        _executions(team, rollout, 100, candidate_errors=0.03, seed=10 + i)
    assert _runs(rollout) == 0  # two sharing teams: below the threshold, nothing of theirs is read
    share(installers[2])
    _executions(installers[2], rollout, 100, candidate_errors=0.03, seed=12)
    assert _runs(rollout) == 300
    _executions(installers[3], rollout, 100, candidate_errors=0.03, seed=13)  # does not share: never counted
    assert _runs(rollout) == 300
    share(installers[0], on=False)  # an opt-out takes effect at once: two sharing teams left
    assert _runs(rollout) == 0


def test_a_breach_in_sharing_installers_runs_stops_the_rollout(rollout, installers):
    for i, team in enumerate(installers[:3]):
        share(team)
        _executions(team, rollout, 300, candidate_errors=0.4, seed=20 + i)
    rollout.refresh_from_db()
    assert rollout.status == "stopped" and "Error rate" in rollout.reason
    assert AgentVersion.objects.get(pk=rollout.candidate_id).is_yanked
    assert not any(team.name in rollout.reason or team.slug in rollout.reason for team in installers)


def test_below_k_a_bad_candidate_in_installers_runs_stops_nothing(rollout, installers):
    for i, team in enumerate(installers[:2]):
        share(team)
        _executions(team, rollout, 300, candidate_errors=0.5, seed=30 + i)
    assert Rollout.objects.get(pk=rollout.pk).status == "running"
