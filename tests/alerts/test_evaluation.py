"""Evaluation of alert rules: each metric and direction, thresholds and severities, the states
pending -> firing -> resolved, no storms, mute, minimum samples, no-data modes, windows."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.models import AlertTransition
from crucible.notifications.models import Event

pytestmark = pytest.mark.django_db
MIN = dt.timedelta(minutes=1)


def _events(team):
    return list(Event.objects.filter(team=team, kind__startswith="alert.").order_by("pk"))


@pytest.mark.parametrize(
    ("metric", "events", "expected"),
    [
        ("error_rate", [{"n": 3, "status": "error"}, {"n": 7}], 0.3),
        ("executions", [{"n": 4}], 4),
        ("tokens_per_execution", [{"n": 2, "input_tokens": 300, "output_tokens": 100}], 400),
        ("cost", [{"n": 2, "cost": 0.25}], 0.5),
        ("unpriced", [{"n": 2, "model": "no-such-model-xyz"}, {"n": 1}], 2),
        ("avg_quality", [{"n": 1, "quality": 60}, {"n": 1, "quality": 80}], 70),
    ],
)
def test_each_metric_is_read_from_the_window(team, tick, ingest, make_rule, evaluate, metric, events, expected):
    for spec in events:
        spec = dict(spec)
        ingest(team, at=tick - 3 * MIN, n=spec.pop("n"), **spec)
    rule = make_rule(team, metric=metric, critical_threshold=10**9)
    evaluate(rule, tick)
    assert rule.last_value == pytest.approx(expected)
    assert rule.state == "ok"


@pytest.mark.parametrize("metric", ["p95_ms", "p99_ms"])
def test_percentiles_come_from_the_duration_histogram(team, tick, ingest, make_rule, evaluate, metric):
    ingest(team, at=tick - 3 * MIN, n=90, duration_ms=100.0)
    ingest(team, at=tick - 3 * MIN, n=10, duration_ms=5000.0)
    rule = make_rule(team, metric=metric, warning_threshold=1000)
    evaluate(rule, tick)
    assert rule.last_value == pytest.approx(5000, rel=0.07)  # the histogram's relative error
    assert (rule.state, rule.severity) == ("firing", "warning")


def test_warning_and_critical_thresholds_give_the_severity(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=2, status="error")
    ingest(team, at=tick - 3 * MIN, n=8)
    warning_only = make_rule(team, warning_threshold=0.1, critical_threshold=0.5)
    critical = make_rule(team, warning_threshold=0.1, critical_threshold=0.15)
    quiet = make_rule(team, warning_threshold=0.2, critical_threshold=0.5)  # 0.2 is not above 0.2
    evaluate(team, tick)
    for rule in (warning_only, critical, quiet):
        rule.refresh_from_db()
    assert (warning_only.state, warning_only.severity) == ("firing", "warning")
    assert (critical.state, critical.severity) == ("firing", "critical")
    assert (quiet.state, quiet.severity) == ("ok", "")


def test_direction_below_fires_when_the_value_drops_under(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=3)
    low_traffic = make_rule(team, metric="executions", direction="below", critical_threshold=10)
    enough = make_rule(team, metric="executions", direction="below", critical_threshold=2)
    evaluate(team, tick)
    low_traffic.refresh_from_db()
    enough.refresh_from_db()
    assert low_traffic.state == "firing"
    assert enough.state == "ok"


def test_pending_then_firing_then_resolved_with_one_notification_per_change(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=5, status="error")
    rule = make_rule(team, window_minutes=5, critical_threshold=0.5, pending_minutes=2, no_data="ok")
    evaluate(rule, tick)
    assert rule.state == "pending"
    evaluate(rule, tick + MIN)
    assert rule.state == "pending"
    evaluate(rule, tick + 2 * MIN)
    assert (rule.state, rule.severity) == ("firing", "critical")
    evaluate(rule, tick + 3 * MIN)  # the errors leave the 5-minute window: no data, treated as OK
    assert rule.state == "resolved"
    history = [(t.from_state, t.to_state) for t in AlertTransition.objects.filter(rule=rule).order_by("tick")]
    assert history == [("ok", "pending"), ("pending", "firing"), ("firing", "resolved")]
    events = _events(team)
    assert [e.kind for e in events] == ["alert.firing", "alert.resolved"]
    firing = AlertTransition.objects.get(rule=rule, to_state="firing")
    assert events[0].dedupe_key == f"alert-transition:{firing.pk}"
    assert events[0].url == f"/alerts/rules/{rule.pk}/"
    assert events[0].payload["transition"]["value"] == 1.0


def test_a_breach_that_ends_while_pending_goes_back_to_ok_silently(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 4 * MIN, n=2, status="error")
    rule = make_rule(team, window_minutes=5, critical_threshold=0.5, pending_minutes=5, no_data="ok")
    evaluate(rule, tick)
    evaluate(rule, tick + 2 * MIN)
    assert rule.state == "ok"
    assert _events(team) == []


def test_no_storm_a_rule_that_keeps_firing_notifies_once(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=4, status="error")
    rule = make_rule(team, window_minutes=60, critical_threshold=0.5)
    for minute in range(10):
        evaluate(rule, tick + minute * MIN)
    assert rule.state == "firing"
    assert AlertTransition.objects.filter(rule=rule).count() == 1
    assert len(_events(team)) == 1


def test_a_tick_evaluated_twice_changes_nothing_the_second_time(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=4, status="error")
    rule = make_rule(team, critical_threshold=0.5)
    assert len(evaluate(rule, tick)) == 1
    assert evaluate(rule, tick) == []
    assert evaluate(rule, tick + dt.timedelta(seconds=30)) == []  # the same minute
    assert AlertTransition.objects.filter(rule=rule).count() == 1
    assert len(_events(team)) == 1


def test_severity_change_while_firing_is_a_transition(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=1, status="error")
    ingest(team, at=tick - 3 * MIN, n=3)
    rule = make_rule(team, window_minutes=60, warning_threshold=0.2, critical_threshold=0.5)
    evaluate(rule, tick)
    assert rule.severity == "warning"
    ingest(team, at=tick - 2 * MIN, n=6, status="error")
    evaluate(rule, tick + MIN)
    assert (rule.state, rule.severity) == ("firing", "critical")
    assert [e.title for e in _events(team)] == [f"[warning] {rule.name} is firing", f"[critical] {rule.name} is firing"]


def test_muted_rule_records_transitions_without_notifying(team, tick, ingest, make_rule, evaluate):
    from alerts import services

    ingest(team, at=tick - 3 * MIN, n=4, status="error")
    rule = make_rule(team, critical_threshold=0.5)
    services.alert_rule_mute(rule=rule, until=tick + dt.timedelta(hours=1))
    evaluate(rule, tick)
    assert rule.state == "firing"
    transition = AlertTransition.objects.get(rule=rule)
    assert transition.notified is False
    assert _events(team) == []


def test_below_the_minimum_sample_size_the_state_is_kept(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=3, status="error")
    rule = make_rule(team, critical_threshold=0.5, min_samples=5)
    evaluate(rule, tick)
    assert rule.state == "ok"
    assert rule.last_samples == 3
    ingest(team, at=tick - 2 * MIN, n=2, status="error")
    evaluate(rule, tick + MIN)
    assert rule.state == "firing"


@pytest.mark.parametrize(("no_data", "expected"), [("ok", "resolved"), ("alerting", "firing"), ("keep", "firing")])
def test_no_data_modes(team, tick, ingest, make_rule, evaluate, no_data, expected):
    ingest(team, at=tick - 3 * MIN, n=2, status="error")
    rule = make_rule(team, window_minutes=5, critical_threshold=0.5, no_data=no_data)
    evaluate(rule, tick)
    assert rule.state == "firing"
    evaluate(rule, tick + 10 * MIN)  # nothing in the window any more
    assert rule.state == expected
    if no_data == "alerting":
        assert rule.severity == "critical"


def test_no_data_alerting_fires_a_rule_that_never_saw_data(team, tick, make_rule, evaluate):
    rule = make_rule(team, metric="executions", critical_threshold=100, no_data="alerting")
    evaluate(rule, tick)
    assert (rule.state, rule.severity) == ("firing", "critical")


def test_scope_agent_model_version(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=2, agent="planner", model="gpt-4o", agent_version="1.0.0", status="error")
    ingest(team, at=tick - 3 * MIN, n=3, agent="coder", model="gpt-4o", agent_version="2.0.0")
    planner = make_rule(team, metric="executions", agent_name="planner", critical_threshold=100)
    model = make_rule(team, metric="executions", model="gpt-4o", critical_threshold=100)
    version = make_rule(team, metric="executions", version="2.0.0", critical_threshold=100)
    errors_of_coder = make_rule(team, agent_name="coder", critical_threshold=0.1)
    evaluate(team, tick)
    for rule in (planner, model, version, errors_of_coder):
        rule.refresh_from_db()
    assert (planner.last_value, model.last_value, version.last_value) == (2, 5, 3)
    assert errors_of_coder.state == "ok"


def test_long_windows_add_hourly_rollups_and_raw_edges(team, tick, ingest, make_rule, evaluate):
    # 10, 50, 100 and 170 minutes before the tick: hourly rollups hold the whole hours between.
    for minutes in (10, 50, 100, 170):
        ingest(team, at=tick - minutes * MIN, n=1)
    counts = {}
    for window in (5, 15, 60, 120, 180):
        rule = make_rule(team, metric="executions", window_minutes=window, critical_threshold=100)
        evaluate(rule, tick)
        counts[window] = rule.last_value
        rule.delete()
    assert counts == {5: 0, 15: 1, 60: 2, 120: 3, 180: 4}


def test_other_teams_executions_do_not_count(team, other_team, tick, ingest, make_rule, evaluate):
    ingest(other_team, at=tick - 3 * MIN, n=5, status="error")
    rule = make_rule(team, critical_threshold=0.5, no_data="keep")
    evaluate(rule, tick)
    assert rule.state == "ok"
    assert rule.last_samples == 0


def test_editing_what_is_measured_starts_again_from_ok(team, tick, ingest, make_rule, evaluate):
    from alerts import services

    ingest(team, at=tick - 3 * MIN, n=4, status="error")
    rule = make_rule(team, critical_threshold=0.5)
    evaluate(rule, tick)
    assert rule.state == "firing"
    services.alert_rule_update(rule=rule, data={"critical_threshold": 0.9})
    rule.refresh_from_db()
    assert rule.state == "ok"
    services.alert_rule_update(rule=rule, data={"name": "renamed"})
    rule.refresh_from_db()
    assert rule.state == "ok"


def test_the_periodic_job_evaluates_every_team_once_per_tick(team, other_team, tick, ingest, make_rule):
    from alerts.tasks import alerts_evaluate

    ingest(team, at=tick - 3 * MIN, n=2, status="error")
    ingest(other_team, at=tick - 3 * MIN, n=2, status="error")
    make_rule(team, critical_threshold=0.5)
    make_rule(other_team, critical_threshold=0.5)
    result = alerts_evaluate(int(tick.timestamp()))
    assert result["transitions"] == 2
    assert alerts_evaluate(int(tick.timestamp()) + 20)["transitions"] == 0
