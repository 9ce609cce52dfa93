"""CUPED: with each unit's metric before the experiment, the adjusted estimate keeps the truth
(unbiased) with a narrower interval; the report shows both, and the variance reduction."""

import random
import statistics

import pytest

from improvement import cuped

BASE = "/api/v1/improvement"
QUALITY_ONLY = {"weight_quality": 1.0, "weight_success": 0.0, "weight_speed": 0.0, "weight_cost": 0.0}
EFFECT = 0.02


def _unit(rng, treated):
    """A unit's metric before the experiment (x) and its score in it (y), strongly related."""
    x = rng.uniform(0.2, 0.8)
    y = min(1.0, max(0.0, 0.15 + 0.7 * x + rng.gauss(0, 0.04) + (EFFECT if treated else 0.0)))
    return x, y


def _moments(pairs):
    return cuped.Moments(
        len(pairs),
        sum(y for _, y in pairs),
        sum(y * y for _, y in pairs),
        sum(x for x, _ in pairs),
        sum(x * x for x, _ in pairs),
        sum(x * y for x, y in pairs),
    )


def _width(d):
    return d["high"] - d["low"]


def test_adjusted_estimate_is_unbiased_and_its_interval_narrower():
    rng = random.Random(2026)
    plain, adjusted = [], []
    for _ in range(200):
        control = [_unit(rng, False) for _ in range(300)]
        treated = [_unit(rng, True) for _ in range(300)]
        found = cuped.report(
            groups={1: _moments(control), 2: _moments(treated)},
            names={1: "control", 2: "treated"},
            control_id=1,
            alpha=0.05,
            n_opt=500,
        )
        row = found["variants"][1]
        assert _width(row["vs_control_adjusted"]) < _width(row["vs_control"]) / 2
        assert found["variance_reduction"] > 0.8
        assert found["theta"] == pytest.approx(0.7, abs=0.05)
        plain.append(row["vs_control"]["estimate"])
        adjusted.append(row["vs_control_adjusted"]["estimate"])
    # Unbiased: the mean of the adjusted estimates is the true effect (its standard error over
    # 200 runs is about 0.0002), and they vary far less than the unadjusted ones.
    assert statistics.fmean(adjusted) == pytest.approx(EFFECT, abs=0.001)
    assert statistics.fmean(plain) == pytest.approx(EFFECT, abs=0.004)
    assert statistics.stdev(adjusted) < statistics.stdev(plain) / 3


def test_a_covariate_unrelated_to_the_metric_changes_almost_nothing():
    rng = random.Random(7)
    pairs = {k: [(rng.random(), rng.random()) for _ in range(400)] for k in (1, 2)}
    found = cuped.report(
        groups={k: _moments(p) for k, p in pairs.items()}, names={1: "a", 2: "b"}, control_id=1, alpha=0.05, n_opt=500
    )
    assert abs(found["variance_reduction"]) < 0.05
    row = found["variants"][1]
    assert row["vs_control_adjusted"]["estimate"] == pytest.approx(row["vs_control"]["estimate"], abs=0.02)


def test_no_spread_in_the_covariate_means_no_adjustment():
    groups = {1: cuped.Moments(3, 1.5, 0.9, 3.0, 3.0, 1.5), 2: cuped.Moments(3, 1.8, 1.2, 3.0, 3.0, 1.8)}
    theta, found = cuped.adjust(groups)
    assert theta is None and found[2].mean_adjusted == found[2].mean


@pytest.mark.django_db
def test_report_shows_adjusted_and_unadjusted_estimates(team_key_client, web_for_team=None):
    created = team_key_client.post(
        f"{BASE}/experiments/",
        {
            "name": "cuped-demo",
            "status": "running",
            "cuped": True,
            "variants": [{"name": "control", "prompt": "a", "is_control": True}, {"name": "new", "prompt": "b"}],
            **QUALITY_ONLY,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["cuped"] is True
    ids = {v["name"]: v["id"] for v in body["variants"]}
    rng = random.Random(3)
    results = []
    for name, treated in (("control", False), ("new", True)):
        for _ in range(200):
            x, y = _unit(rng, treated)
            results.append({"variant_id": ids[name], "success": True, "quality": y * 100, "covariate": x})
    recorded = team_key_client.post(f"{BASE}/results/batch/", {"results": results}, format="json")
    assert recorded.status_code == 201, recorded.json()
    report = team_key_client.get(f"{BASE}/experiments/{body['id']}/report/").json()
    section = report["cuped"]
    assert section["variance_reduction"] > 0.8
    new = next(row for row in section["variants"] if row["name"] == "new")
    assert new["results_with_covariate"] == 200
    assert _width(new["vs_control_adjusted"]) < _width(new["vs_control"])
    assert new["high_adjusted"] - new["low_adjusted"] < new["high"] - new["low"]
    bad = team_key_client.post(
        f"{BASE}/results/batch/",
        {"results": [{"variant_id": ids["new"], "success": True, "covariate": "high"}]},
        format="json",
    )
    assert bad.status_code == 400 and "results.0.covariate" in bad.json()["fields"]
    off = team_key_client.patch(f"{BASE}/experiments/{body['id']}/", {"cuped": False}, format="json")
    assert off.status_code == 200
    assert team_key_client.get(f"{BASE}/experiments/{body['id']}/report/").json()["cuped"] is None


@pytest.mark.django_db
def test_the_page_shows_the_cuped_section(make_experiment, member_client, team):
    from improvement import services

    experiment = make_experiment("cuped-page", cuped=True, **QUALITY_ONLY)
    control, new = experiment.variants.order_by("id")
    rng = random.Random(4)
    rows = []
    for variant, treated in ((control, False), (new, True)):
        for _ in range(50):
            x, y = _unit(rng, treated)
            rows.append({"variant_id": variant.pk, "success": True, "quality": y * 100, "covariate": x})
    services.results_record_bulk(team=team, results=rows)
    html = member_client.get(f"/improvement/experiments/{experiment.pk}/").content.decode()
    section = html.split('id="cuped"')[1].split("</section>")[0]
    assert "variance reduction" in section and "Adjusted mean" in section


@pytest.mark.django_db
def test_observability_gives_each_users_history_as_the_covariate(make_experiment, team):
    import datetime as dt

    from django.utils import timezone

    from improvement.models import Experiment, Variant
    from observability.services import executions_ingest

    experiment = make_experiment("cuped-feed", cuped=True)
    started = timezone.now() - dt.timedelta(hours=1)
    Experiment.objects.filter(pk=experiment.pk).update(started_at=started)
    control, new = experiment.variants.order_by("id")

    def event(i, user, status, at, variant=None):
        found = {"id": f"e-{i}", "agent": "helper", "user_id": user, "status": status, "duration_ms": 500.0}
        found |= {"started_at": at.isoformat(), "input_tokens": 10, "output_tokens": 5}
        return found | ({"variant_id": variant.pk} if variant else {})

    before = started - dt.timedelta(days=2)
    history = [event(i, "alice", "success", before) for i in range(3)]
    history += [event(10 + i, "bob", "success" if i == 0 else "error", before) for i in range(4)]
    history += [event(20, "carol", "success", started - dt.timedelta(days=45))]  # too old to count
    assert {r["status"] for r in executions_ingest(team=team, events=history)} == {"stored"}
    during = started + dt.timedelta(minutes=5)
    runs = [event(100, "alice", "success", during, control), event(101, "bob", "success", during, new)]
    runs += [event(102, "carol", "success", during, new), event(103, "", "success", during, new)]
    assert {r["status"] for r in executions_ingest(team=team, events=runs)} == {"stored"}
    control, new = Variant.objects.filter(pk__in=[control.pk, new.pk]).order_by("id")
    assert (control.cuped_count, control.cuped_x_sum) == (1, pytest.approx(1.0))  # alice: 3 of 3
    assert (new.cuped_count, new.cuped_x_sum) == (1, pytest.approx(0.25))  # bob: 1 of 4; carol, anonymous: none
    assert new.results_count == 3
