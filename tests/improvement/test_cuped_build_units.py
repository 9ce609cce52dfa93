"""CUPED's covariate for build units comes from team memory: a result naming its unit
(``build:<client build id>`` or ``project:<name>``) gets its project's build score before the
experiment, through the source team memory registers with improvement at start-up."""

import datetime as dt

import pytest
from django.utils import timezone

from improvement import covariates
from improvement.models import Experiment, Variant
from teammemory.services import build_record

BASE = "/api/v1/improvement"


def _build(team, build_id, *, project, status, at, quality=None):
    build_record(
        team=team,
        client_build_id=build_id,
        project_name=project,
        status=status,
        quality=quality,
        started_at=at,
        finished_at=at + dt.timedelta(minutes=3),
    )


def test_team_memory_registers_its_build_units_at_start_up():
    sources = covariates.covariate_sources()
    assert {"build:", "project:"} <= set(sources)


@pytest.mark.django_db
def test_a_build_unit_gets_its_projects_build_score_before_the_experiment(
    make_experiment, team, other_team, team_key_client
):
    experiment = make_experiment("cuped-builds", cuped=True)
    started = timezone.now() - dt.timedelta(hours=1)
    Experiment.objects.filter(pk=experiment.pk).update(started_at=started)
    control, new = experiment.variants.order_by("id")
    before = started - dt.timedelta(days=2)
    _build(team, "old-1", project="shop", status="succeeded", quality=80, at=before)
    _build(team, "old-2", project="shop", status="succeeded", at=before)  # unscored success: 1
    _build(team, "old-3", project="shop", status="failed", quality=90, at=before)  # a failure: 0
    _build(team, "old-4", project="shop", status="cancelled", at=before)  # decides nothing
    _build(team, "ancient", project="shop", status="failed", at=started - dt.timedelta(days=45))  # too old
    _build(team, "during", project="shop", status="failed", at=started + dt.timedelta(minutes=5))  # not before
    _build(team, "new-1", project="shop", status="succeeded", at=started + dt.timedelta(minutes=10))
    _build(other_team, "old-x", project="shop", status="failed", at=before)  # another team's history
    _build(team, "lonely", project="", status="succeeded", at=started + dt.timedelta(minutes=10))

    results = [
        {"variant_id": control.pk, "success": True, "unit": "build:new-1"},
        {"variant_id": new.pk, "success": True, "unit": "project:shop"},
        {"variant_id": new.pk, "success": True, "unit": "build:lonely"},  # no project: no history
        {"variant_id": new.pk, "success": True, "unit": "build:unknown"},  # not recorded (yet)
        {"variant_id": new.pk, "success": True, "unit": "user:42"},  # no source for this kind of unit
        {"variant_id": new.pk, "success": True, "unit": "project:shop", "covariate": 0.1},  # sent: kept
    ]
    recorded = team_key_client.post(f"{BASE}/results/batch/", {"results": results}, format="json")
    assert recorded.status_code == 201, recorded.json()
    control, new = Variant.objects.filter(pk__in=[control.pk, new.pk]).order_by("id")
    score = (0.8 + 1.0 + 0.0) / 3
    assert (control.cuped_count, control.cuped_x_sum) == (1, pytest.approx(score))
    assert (new.cuped_count, new.cuped_x_sum) == (2, pytest.approx(score + 0.1))
    assert new.results_count == 5


@pytest.mark.django_db
def test_without_cuped_the_unit_history_is_not_read(make_experiment, team):
    from improvement import services

    experiment = make_experiment("no-cuped-builds")
    Experiment.objects.filter(pk=experiment.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    control = experiment.variants.order_by("id").first()
    _build(team, "old-1", project="shop", status="succeeded", at=timezone.now() - dt.timedelta(days=2))
    services.results_record_bulk(
        team=team, results=[{"variant_id": control.pk, "success": True, "unit": "build:old-1"}]
    )
    control.refresh_from_db()
    assert control.cuped_count == 0 and control.results_count == 1


@pytest.mark.django_db
def test_a_unit_key_is_text_of_at_most_200_characters(make_experiment, team_key_client):
    experiment = make_experiment("unit-limits", cuped=True)
    variant = experiment.variants.first()
    bad = team_key_client.post(
        f"{BASE}/results/batch/",
        {"results": [{"variant_id": variant.pk, "success": True, "unit": "b" * 201}]},
        format="json",
    )
    assert bad.status_code == 400 and "results.0.unit" in bad.json()["fields"]
