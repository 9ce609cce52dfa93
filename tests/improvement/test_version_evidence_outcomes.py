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


def test_concluding_records_won_and_lost_for_versions(team, member):
    agent = mp.agent_create(team=team, name="Duelled", system_prompt="A.")
    old = agent.latest_version
    new = mp.version_publish(agent=agent, system_prompt="B.")
    experiment = _experiment(team, member)
    Variant.objects.filter(experiment=experiment, name="control").update(agent_version=old)
    Variant.objects.filter(experiment=experiment, name="new").update(agent_version=new)
    winner = experiment.variants.get(name="new")
    imp.experiment_conclude(experiment=experiment, winner=winner, use_report_winner=False)
    outcomes = {o.version_id: o for o in VersionExperimentOutcome.objects.filter(experiment_id=experiment.pk)}
    assert {v: o.outcome for v, o in outcomes.items()} == {new.pk: "won", old.pk: "lost"}
    assert all(o.team_id == team.pk for o in outcomes.values())


def test_variants_without_a_version_record_nothing(team, member):
    experiment = _experiment(team, member)
    imp.experiment_conclude(experiment=experiment, use_report_winner=False)
    assert not VersionExperimentOutcome.objects.exists()
