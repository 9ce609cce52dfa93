"""Sample ratio mismatch: silence on a fair split, a warning or an alert on a forced skew."""

import random

import pytest

from improvement import selectors, services, srm

pytestmark = pytest.mark.django_db
BASE = "/api/v1/improvement"


class Skewed(random.Random):
    """Hands the first variant ``bias`` of the uniform draws (a client that loses the others' logs)."""

    def __init__(self, seed, bias):
        super().__init__(seed)
        self.bias = bias

    def choice(self, seq):
        return seq[0] if self.random() < self.bias else super().choice(seq)


def _serve(experiment, n, rng):
    for _ in range(n):
        services.experiment_select(team_ids=[experiment.team_id], experiment_id=experiment.pk, rng=rng)


def _uniform_check(report):
    return next(c for c in report["srm"]["checks"] if c["check"] == "uniform_draws")


def test_chi_square_p_values_match_the_tables():
    # Critical values of the chi-square distribution (any statistics table).
    assert srm.chi_square_p(6.635, 1) == pytest.approx(0.01, abs=2e-4)
    assert srm.chi_square_p(10.828, 1) == pytest.approx(0.001, abs=2e-5)
    assert srm.chi_square_p(9.210, 2) == pytest.approx(0.01, abs=2e-4)
    assert srm.chi_square_p(16.266, 3) == pytest.approx(0.001, abs=2e-5)
    assert srm.chi_square_p(0.0, 3) == 1.0


def test_fair_split_is_silent(make_experiment):
    experiment = make_experiment("fair", variants=("a", "b", "c"), strategy="fixed_split")
    _serve(experiment, 600, random.Random(1))
    report = selectors.experiment_report(experiment=experiment)
    check = _uniform_check(report)
    assert check["status"] == "ok" and check["p_value"] > 0.01
    assert report["srm"]["status"] == "ok"
    assert sum(check["observed"].values()) == 600


def test_forced_skew_raises_an_alert(make_experiment):
    experiment = make_experiment("skew", variants=("a", "b", "c"), strategy="fixed_split")
    _serve(experiment, 600, Skewed(2, bias=0.25))
    report = selectors.experiment_report(experiment=experiment)
    check = _uniform_check(report)
    assert check["status"] == "alert" and check["p_value"] < 0.001
    assert report["srm"]["status"] == "alert"
    assert "does not match its design" in check["message"]


def test_mild_skew_is_a_warning():
    # chi-square 7.84, p = 0.005: below 0.01 (warning), above 0.001 (alert)
    result = srm.goodness_of_fit("uniform_draws", {"a": 544, "b": 456}, {"a": 500.0, "b": 500.0})
    assert result.status == "warning" and 0.001 <= result.p_value < 0.01
    # chi-square 6.4, p = 0.011: silent
    assert srm.goodness_of_fit("uniform_draws", {"a": 540, "b": 460}, {"a": 500.0, "b": 500.0}).status == "ok"


def test_exploration_share_is_checked_for_epsilon_greedy(make_experiment, feed):
    experiment = make_experiment("explore", variants=("a", "b"), strategy="epsilon_greedy", epsilon=0.2, min_results=5)
    a, b = experiment.variants.order_by("id")
    feed(a, 5, seed=1)
    feed(b, 5, seed=2)
    _serve(experiment, 800, random.Random(3))
    fair = next(
        c
        for c in selectors.experiment_report(experiment=experiment)["srm"]["checks"]
        if c["check"] == "exploration_share"
    )
    assert fair["status"] == "ok"

    class NeverExplores(random.Random):
        def random(self):
            return 0.99

    _serve(experiment, 800, NeverExplores(4))
    skewed = next(
        c
        for c in selectors.experiment_report(experiment=experiment)["srm"]["checks"]
        if c["check"] == "exploration_share"
    )
    assert skewed["status"] == "alert"


def test_sticky_repeats_are_not_draws(make_experiment):
    experiment = make_experiment("repeats", variants=("a", "b"), strategy="fixed_split")
    rng = random.Random(5)
    for i in range(100):
        services.experiment_select(team_ids=[experiment.team_id], experiment_id=experiment.pk, unit=f"u{i}", rng=rng)
    # One heavy user comes back 300 times: traffic is skewed, but the split of draws is not.
    for _ in range(300):
        services.experiment_select(team_ids=[experiment.team_id], experiment_id=experiment.pk, unit="u0", rng=rng)
    check = _uniform_check(selectors.experiment_report(experiment=experiment))
    assert sum(check["observed"].values()) == 100 and check["status"] == "ok"


def test_srm_is_in_the_api_report(team_key_client, make_experiment):
    experiment = make_experiment("api-srm", variants=("a", "b"), strategy="fixed_split")
    _serve(experiment, 200, Skewed(6, bias=0.4))
    body = team_key_client.get(f"{BASE}/experiments/{experiment.pk}/report/").json()
    assert body["srm"]["status"] == "alert"
    assert {c["check"] for c in body["srm"]["checks"]} == {"uniform_draws"}


def test_the_uniform_draws_of_an_hour_are_summed_over_its_rows(make_experiment):
    """Selects on different connections write an hour's counts to different rows (shards)."""
    from django.utils import timezone

    from improvement import trust
    from improvement.models import VariantBucket

    experiment = make_experiment("sharded", variants=("a", "b"), strategy="fixed_split")
    a, b = experiment.variants.order_by("id")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    for shard, (draws_a, draws_b) in enumerate([(300, 0), (0, 300), (200, 200)]):
        for variant, draws in ((a, draws_a), (b, draws_b)):
            VariantBucket.objects.create(
                experiment=experiment, variant=variant, bucket=hour, shard=shard, assignments=draws, uniform_draws=draws
            )
    check = next(c for c in trust.experiment_srm(experiment=experiment, variants=[a, b])["checks"])
    assert check["observed"] == {"a": 500, "b": 500}  # a fair split, not the last row's 200/200
    assert check["status"] == srm.OK
