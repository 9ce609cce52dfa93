"""Recording results: exact running statistics, validation with nothing written."""

import math
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from improvement import services
from improvement.models import Assignment, Variant, VariantBucket
from improvement.selectors import variants_for_team

pytestmark = pytest.mark.django_db


def test_bulk_record_updates_sums_counts_and_squares(experiment):
    control, concise = experiment.variants.order_by("id")
    services.results_record_bulk(
        team=experiment.team,
        results=[
            {
                "variant_id": control.pk,
                "success": True,
                "duration_ms": 1000,
                "quality": 80,
                "tokens": 100,
                "cost": 0.01,
            },
            {
                "variant_id": control.pk,
                "success": False,
                "duration_ms": 3000,
                "quality": None,
                "tokens": 50,
                "cost": 0.02,
            },
            {"variant_id": concise.pk, "success": True, "duration_ms": 500, "quality": 90, "tokens": 10, "cost": 0},
        ],
    )
    control.refresh_from_db()
    concise.refresh_from_db()
    assert (control.results_count, control.success_count, control.quality_count) == (2, 1, 1)
    assert control.quality_sum == 80 and control.quality_sum_sq == 6400
    assert control.duration_sum == 4000 and control.duration_sum_sq == 1000**2 + 3000**2
    assert control.tokens_sum == 150 and control.cost_sum == Decimal("0.030000")
    # objective: 0.5 quality + 0.3 success + 0.2 speed (ref 2000 ms); quality missing -> renormalised
    s1 = (0.5 * 0.8 + 0.3 * 1 + 0.2 * (2000 / 3000)) / 1.0
    s2 = (0.3 * 0 + 0.2 * (2000 / 5000)) / 0.5
    assert control.objective_count == 2
    assert math.isclose(control.objective_sum, s1 + s2)
    assert math.isclose(control.objective_sum_sq, s1 * s1 + s2 * s2)
    assert concise.results_count == 1
    bucket = VariantBucket.objects.get(variant=control)
    assert (bucket.results, bucket.successes) == (2, 1)


def test_result_against_assignment_marks_it_once(experiment):
    variant, assignment_id = services.variant_select(experiment=experiment)
    services.result_record(team=experiment.team, assignment_id=assignment_id, success=True, duration_ms=10, quality=50)
    assert Assignment.objects.get(pk=assignment_id).result_at is not None
    with pytest.raises(ValidationError) as exc:
        services.result_record(team=experiment.team, assignment_id=assignment_id, success=True, duration_ms=10)
    assert "assignment_id" in exc.value.message_dict  # one result: the name as sent
    variant.refresh_from_db()
    assert variant.results_count == 1


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"quality": 101}, "quality"),
        ({"quality": -1}, "quality"),
        ({"quality": float("nan")}, "quality"),
        ({"success": "yes"}, "success"),
        ({"duration_ms": -5}, "duration_ms"),
        ({"tokens": 1.5}, "tokens"),
        ({"cost": -0.1}, "cost"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(experiment, bad, field):
    control = experiment.variants.order_by("id").first()
    good = {"variant_id": control.pk, "success": True, "duration_ms": 10, "quality": 50, "tokens": 1, "cost": 0}
    with pytest.raises(ValidationError) as exc:
        services.results_record_bulk(team=experiment.team, results=[good, good | bad])
    assert f"results.1.{field}" in exc.value.message_dict
    control.refresh_from_db()
    assert control.results_count == 0
    assert not VariantBucket.objects.filter(results__gt=0).exists()


def test_retired_variant_other_team_and_other_experiment_are_refused(experiment, make_experiment, make_team):
    control, concise = experiment.variants.order_by("id")
    services.variant_retire(variant=concise)
    other = make_experiment("other-exp")
    foreign = make_experiment("foreign", team_=make_team("Initech", slug="initech"))
    foreign_variant = foreign.variants.first()
    cases = [
        (concise.pk, None, "retired"),
        (foreign_variant.pk, None, "Unknown variant"),
        (other.variants.first().pk, experiment, "another experiment"),
    ]
    for variant_id, scope, words in cases:
        with pytest.raises(ValidationError) as exc:
            services.results_record_bulk(
                team=experiment.team,
                experiment=scope,
                results=[
                    {"variant_id": variant_id, "success": True, "duration_ms": 1, "quality": 1, "tokens": 0, "cost": 0}
                ],
            )
        assert words in exc.value.message_dict["results.0.variant_id"][0]
    assert sum(Variant.objects.values_list("results_count", flat=True)) == 0


def test_variants_for_team_only_returns_the_teams_variants(experiment, make_experiment, make_team):
    foreign = make_experiment("foreign", team_=make_team("Initech", slug="initech"))
    ids = (
        list(experiment.variants.values_list("id", flat=True))
        + list(foreign.variants.values_list("id", flat=True))
        + [999999]
    )
    found = variants_for_team(team=experiment.team, ids=ids)
    assert set(found) == set(experiment.variants.values_list("id", flat=True))
    assert all(v.experiment.name == experiment.name for v in found.values())


@pytest.mark.django_db(transaction=True)
def test_concurrent_results_are_counted_exactly(make_experiment):
    experiment = make_experiment("concurrent")
    control, concise = experiment.variants.order_by("id")
    threads, errors = 8, []
    per_thread = 25

    def worker(seed):
        try:
            for i in range(per_thread):
                services.results_record_bulk(
                    team=experiment.team,
                    results=[
                        {
                            "variant_id": control.pk,
                            "success": True,
                            "duration_ms": 100,
                            "quality": 50,
                            "tokens": 3,
                            "cost": 0.001,
                        },
                        {
                            "variant_id": concise.pk,
                            "success": i % 2 == 0,
                            "duration_ms": 200,
                            "quality": None,
                            "tokens": 1,
                            "cost": 0,
                        },
                    ],
                )
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
    control.refresh_from_db()
    concise.refresh_from_db()
    total = threads * per_thread
    assert control.results_count == total and control.success_count == total
    assert control.quality_sum == 50 * total and control.tokens_sum == 3 * total
    assert control.cost_sum == Decimal("0.001") * total
    assert concise.results_count == total and concise.success_count == threads * ((per_thread + 1) // 2)
    assert sum(VariantBucket.objects.filter(variant=control).values_list("results", flat=True)) == total
