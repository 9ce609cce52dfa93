"""The demo data: experiments at every stage, one with a clear winner, charts with history."""

import pytest

from crucible.demo import seed_core
from improvement import demo
from improvement.models import Experiment, Status, VariantBucket
from improvement.selectors import experiment_report

pytestmark = pytest.mark.django_db


def test_demo_seed_has_every_stage_and_a_clear_winner():
    ctx = seed_core(quiet=True)
    demo.seed(ctx)
    statuses = set(Experiment.objects.values_list("status", flat=True))
    assert statuses == {Status.DRAFT, Status.RUNNING, Status.PAUSED, Status.CONCLUDED}
    clear = Experiment.objects.get(name="code-review-tone")
    report = experiment_report(experiment=clear)
    assert report["winner"] is not None and report["winner"]["name"] == "concise"
    thin = experiment_report(experiment=Experiment.objects.get(name="test-writer-depth"))
    assert thin["winner"] is None
    tied = experiment_report(experiment=Experiment.objects.get(name="bugfix-explainer"))
    assert tied["winner"] is None
    concluded = Experiment.objects.get(name="commit-message-style")
    assert concluded.winner is not None and concluded.winner.name == "terse"
    # History over several days: the traffic chart has something to show.
    assert VariantBucket.objects.filter(experiment=clear).values("bucket__date").distinct().count() >= 10
    # Variant statistics agree with the buckets they were simulated into.
    for variant in clear.variants.all():
        assert variant.results_count == sum(
            VariantBucket.objects.filter(variant=variant).values_list("results", flat=True)
        )


def test_demo_experiments_tune_their_own_related_agents():
    from marketplace import demo as marketplace_demo

    ctx = seed_core(quiet=True)
    marketplace_demo.seed(ctx)
    demo.seed(ctx)
    attached = Experiment.objects.filter(agent__isnull=False).select_related("agent")
    assert attached.count() >= 4
    for experiment in attached:
        assert experiment.agent.team_id == experiment.team_id
        # The experiment is about that agent: they share a word ("code-review-tone", "code-reviewer").
        assert set(experiment.name.split("-")) & set(experiment.agent.slug.split("-")), experiment.name
    # Nothing was promoted onto an agent the experiment was not about.
    assert not Experiment.objects.filter(promoted_version__isnull=False, agent__isnull=True).exists()
