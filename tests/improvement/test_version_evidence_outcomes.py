"""Concluding an experiment tells the marketplace's version evidence how each variant that runs a
marketplace version fared (variants carry ``agent_version`` once versions can be variants)."""

import pytest

from improvement import services as imp
from improvement.models import Variant
from marketplace import services as mp
from marketplace.models import VersionExperimentOutcome

pytestmark = pytest.mark.django_db


def _experiment(team, member):
    return imp.experiment_create(
        team=team,
        name="Prompt duel",
        created_by=member,
        variants=[{"name": "control", "prompt": "A.", "is_control": True}, {"name": "new", "prompt": "B."}],
        status="running",
    )


def test_concluding_records_won_and_lost_for_versions(team, member, monkeypatch):
    agent = mp.agent_create(team=team, name="Duelled", system_prompt="A.")
    version = agent.latest_version
    # Stand-in for the variant -> version link: every variant runs this version.
    monkeypatch.setattr(Variant, "agent_version_id", version.pk, raising=False)
    experiment = _experiment(team, member)
    winner = experiment.variants.get(name="new")
    imp.experiment_conclude(experiment=experiment, winner=winner, use_report_winner=False)
    outcome = VersionExperimentOutcome.objects.get(version=version, experiment_id=experiment.pk)
    assert outcome.team_id == team.pk and outcome.outcome in ("won", "lost")


def test_variants_without_a_version_record_nothing(team, member):
    experiment = _experiment(team, member)
    imp.experiment_conclude(experiment=experiment, use_report_winner=False)
    assert not VersionExperimentOutcome.objects.exists()
