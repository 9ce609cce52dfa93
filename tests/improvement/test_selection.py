"""Selection strategies: epsilon-greedy's split, warm-up, Thompson and UCB1 convergence, states."""

import random
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from improvement import bandits, services
from improvement.models import Assignment, Experiment, VariantBucket

pytestmark = pytest.mark.django_db


def _sigma_ok(observed: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    sd = (n * p * (1 - p)) ** 0.5
    return abs(observed - n * p) <= sigmas * sd


def test_epsilon_greedy_exploits_about_90_percent_and_explores_10():
    # Three arms past warm-up; arm 1 has the best mean. Expected share of arm 1: 0.9 + 0.1/3.
    arms = [bandits.Arm(1, 100, 80.0, 100), bandits.Arm(2, 100, 50.0, 100), bandits.Arm(3, 100, 40.0, 100)]
    rng = random.Random(7)
    n = 20000
    picks = [bandits.epsilon_greedy(arms, epsilon=0.1, min_results=30, rng=rng).id for _ in range(n)]
    assert _sigma_ok(picks.count(1), n, 0.9 + 0.1 / 3)
    assert _sigma_ok(picks.count(2), n, 0.1 / 3)
    assert _sigma_ok(picks.count(3), n, 0.1 / 3)


def test_epsilon_greedy_split_through_the_service(make_experiment, feed):
    experiment = make_experiment("split", min_results=20)
    good, bad = experiment.variants.order_by("id")
    feed(good, 40, p=0.95, quality=90, seed=1)
    feed(bad, 40, p=0.3, quality=30, seed=2)
    rng = random.Random(11)
    n = 1500
    picks = [services.variant_select(experiment=experiment, rng=rng)[0].pk for _ in range(n)]
    # Two arms: the best gets 90% + half of the 10% exploration.
    assert _sigma_ok(picks.count(good.pk), n, 0.95)
    assert Assignment.objects.filter(experiment=experiment).count() == n
    assert sum(VariantBucket.objects.filter(experiment=experiment).values_list("assignments", flat=True)) == n


def test_epsilon_can_be_set_per_experiment(make_experiment, feed):
    experiment = make_experiment("greedy-only", epsilon=0.0, min_results=5)
    good, bad = experiment.variants.order_by("id")
    feed(good, 10, p=1.0, quality=90)
    feed(bad, 10, p=0.0, quality=10)
    rng = random.Random(3)
    assert {services.variant_select(experiment=experiment, rng=rng)[0].pk for _ in range(200)} == {good.pk}


def test_new_variant_is_served_first_until_it_has_the_minimum(make_experiment, feed):
    experiment = make_experiment("warmup", min_results=10)
    a, b = experiment.variants.order_by("id")
    feed(a, 10, p=0.9)
    feed(b, 10, p=0.9, seed=3)
    newcomer = services.variant_create(experiment=experiment, name="newcomer", prompt="Try this.")
    rng = random.Random(5)
    assert {services.variant_select(experiment=experiment, rng=rng)[0].pk for _ in range(50)} == {newcomer.pk}
    feed(newcomer, 10, p=0.9, seed=4)
    served = {services.variant_select(experiment=experiment, rng=rng)[0].pk for _ in range(300)}
    assert served == {a.pk, b.pk, newcomer.pk}


def test_warm_up_spreads_over_all_variants_below_the_minimum(make_experiment):
    experiment = make_experiment("fresh", variants=("a", "b", "c"), min_results=30)
    rng = random.Random(9)
    picks = [services.variant_select(experiment=experiment, rng=rng)[0].name for _ in range(600)]
    for name in "abc":
        assert _sigma_ok(picks.count(name), 600, 1 / 3)


@pytest.mark.parametrize("strategy", ["thompson", "ucb1"])
def test_strategy_converges_on_the_better_variant(make_experiment, strategy):
    experiment = make_experiment(
        f"converge-{strategy}", strategy=strategy, weight_quality=0, weight_speed=0, weight_success=1
    )
    good, bad = experiment.variants.order_by("id")
    truth = {good.pk: 0.7, bad.pk: 0.35}
    rng = random.Random(21)
    world = random.Random(22)
    late = []
    rounds = 600
    for i in range(rounds):
        variant, assignment_id = services.variant_select(experiment=experiment, rng=rng)
        services.result_record(
            team=experiment.team,
            assignment_id=assignment_id,
            success=world.random() < truth[variant.pk],
            duration_ms=100,
        )
        if i >= rounds - 200:
            late.append(variant.pk)
    # By the end most traffic goes to the better arm.
    assert late.count(good.pk) / len(late) > 0.75
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.results_count > 2 * bad.results_count


def test_thompson_simulation_converges_without_database():
    arms_truth = [0.2, 0.5, 0.55]
    n = [0, 0, 0]
    total = [0.0, 0.0, 0.0]
    rng, world = random.Random(1), random.Random(2)
    for _ in range(4000):
        arms = [bandits.Arm(i, n[i], total[i], n[i]) for i in range(3)]
        i = bandits.thompson(arms, min_results=0, rng=rng).id
        n[i] += 1
        total[i] += 1.0 if world.random() < arms_truth[i] else 0.0
    assert n[2] > n[1] > n[0]
    assert n[2] / sum(n) > 0.5


def test_ucb1_tries_every_variant_first():
    arms = [bandits.Arm(1, 5, 4.0, 5), bandits.Arm(2, 0, 0.0, 0), bandits.Arm(3, 0, 0.0, 0)]
    rng = random.Random(0)
    assert {bandits.ucb1(arms, min_results=0, rng=rng).id for _ in range(50)} == {2, 3}


@pytest.mark.parametrize("status", ["draft", "paused", "concluded"])
def test_selecting_from_a_non_running_experiment_is_refused(make_experiment, status):
    experiment = make_experiment(f"state-{status}", status="draft")
    if status == "paused":
        services.experiment_start(experiment=experiment)
        experiment = services.experiment_pause(experiment=experiment)
    elif status == "concluded":
        services.experiment_start(experiment=experiment)
        experiment = services.experiment_conclude(experiment=experiment)
    with pytest.raises(ValidationError) as exc:
        services.variant_select(experiment=experiment)
    assert "status" in exc.value.message_dict
    assert not Assignment.objects.exists()


def test_retired_variants_get_no_traffic(make_experiment):
    experiment = make_experiment("retire", variants=("a", "b"))
    a, b = experiment.variants.order_by("id")
    services.variant_retire(variant=b)
    assert {services.variant_select(experiment=experiment)[0].pk for _ in range(40)} == {a.pk}


@pytest.mark.django_db(transaction=True)
def test_select_does_not_wait_for_a_lock_on_the_experiment(make_experiment):
    """While another transaction is changing the experiment (row locked the way the services lock
    it, and updated), select still answers: it neither locks nor waits for the experiment row."""
    experiment = make_experiment("unlocked")
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                Experiment.objects.select_for_update(no_key=True).get(pk=experiment.pk)
                Experiment.objects.filter(pk=experiment.pk).update(description="being edited")
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")
        variant, assignment_id = services.variant_select(experiment=experiment)
        assert Assignment.objects.filter(pk=assignment_id, variant=variant).exists()
    finally:
        release.set()
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")


@pytest.mark.django_db(transaction=True)
def test_concurrent_selects_each_write_one_assignment_and_one_traffic_count(make_experiment):
    experiment = make_experiment("busy", variants=("a", "b", "c"))
    threads, per_thread, errors, served = 8, 30, [], []

    def worker(seed):
        rng = random.Random(seed)
        try:
            for _ in range(per_thread):
                served.append(services.variant_select(experiment=experiment, rng=rng)[1])
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    total = threads * per_thread
    assert len(set(served)) == total
    assert Assignment.objects.filter(experiment=experiment).count() == total
    assert sum(VariantBucket.objects.filter(experiment=experiment).values_list("assignments", flat=True)) == total
