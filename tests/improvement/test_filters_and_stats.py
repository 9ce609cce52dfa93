"""FilterSets shared by API and pages; properties of the interval maths."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from improvement import services, stats
from improvement.filters import AssignmentFilterSet, ExperimentFilterSet, VariantFilterSet
from improvement.models import Assignment, Experiment, Variant


@pytest.mark.django_db
def test_experiment_filters(make_experiment):
    a = make_experiment("alpha-tone", description="review tone")
    make_experiment("beta", status="draft", strategy="thompson")
    services.experiment_conclude(experiment=a, winner=a.variants.first())
    qs = Experiment.objects.all()
    assert [e.name for e in ExperimentFilterSet({"q": "tone"}, qs).qs] == ["alpha-tone"]
    assert [e.name for e in ExperimentFilterSet({"status": ["draft"]}, qs).qs] == ["beta"]
    assert [e.name for e in ExperimentFilterSet({"strategy": "thompson"}, qs).qs] == ["beta"]
    assert [e.name for e in ExperimentFilterSet({"has_winner": "true"}, qs).qs] == ["alpha-tone"]
    assert not ExperimentFilterSet({"status": ["nonsense"]}, qs).is_valid()


@pytest.mark.django_db
def test_variant_and_assignment_filters(experiment):
    control, concise = experiment.variants.order_by("id")
    services.variant_retire(variant=concise)
    qs = Variant.objects.all()
    assert list(VariantFilterSet({"retired": "true"}, qs).qs) == [concise]
    assert list(VariantFilterSet({"is_control": "true"}, qs).qs) == [control]
    assert VariantFilterSet({"experiment_name": experiment.name}, qs).qs.count() == 2
    services.variant_select(experiment=experiment)
    assert AssignmentFilterSet({"has_result": "false", "variant": control.pk}, Assignment.objects.all()).qs.count() == 1


@given(st.integers(min_value=1, max_value=10_000), st.data())
def test_wilson_interval_is_inside_0_1_and_contains_the_rate(n, data):
    k = data.draw(st.integers(min_value=0, max_value=n))
    low, high = stats.wilson_interval(k, n, 0.95)
    assert 0.0 <= low <= k / n + 1e-12 and k / n - 1e-12 <= high <= 1.0


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=2, max_size=200))
def test_mean_interval_is_centred_and_nonnegative_width(values):
    n, total, total_sq = len(values), sum(values), sum(v * v for v in values)
    mean, low, high = stats.mean_interval(n, total, total_sq, 0.95)
    assert math.isclose(mean, total / n)
    assert low <= mean + 1e-12 <= high + 2e-12


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.001, 0.3)), min_size=1, max_size=6))
def test_probability_best_sums_to_one(params):
    probs = stats.probability_best([stats.Posterior(m, s) for m, s in params], draws=500, seed=1)
    assert math.isclose(sum(probs), 1.0, abs_tol=1e-9)
    assert all(0.0 <= p <= 1.0 for p in probs)
