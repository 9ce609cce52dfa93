"""The figures of alert windows (observability.selectors.alert_window_figures) against plain SQL
over the raw executions of the same windows: whole hours from hourly rollups, edges from minute
rollups (raw executions for minutes older than the minute retention), quality from the rollups;
one statement for every window and scope."""

import datetime as dt
import random

import pytest
from django.db import connection

from alerts.models import WINDOW_CHOICES
from alerts.services.evaluation import tick_of
from observability import conf, histogram
from observability.minutes import minute_rollups_purge
from observability.selectors import alert_window_figures
from observability.services import executions_ingest

pytestmark = pytest.mark.django_db
WINDOWS = [minutes for minutes, _ in WINDOW_CHOICES]

RAW_SQL = """
SELECT count(*) FILTER (WHERE counts_execution) AS executions,
       count(*) FILTER (WHERE counts_execution AND status = 'error') AS errors,
       coalesce(sum(input_tokens + output_tokens) FILTER (WHERE counts_usage), 0) AS tokens,
       coalesce(sum(cost) FILTER (WHERE counts_usage), 0) AS cost,
       count(*) FILTER (WHERE counts_usage AND cost IS NULL) AS unpriced,
       avg(quality) FILTER (WHERE counts_execution) AS quality,
       count(quality) FILTER (WHERE counts_execution) AS quality_n,
       coalesce(array_agg(duration_ms) FILTER (WHERE counts_execution), '{}') AS durations
FROM observability_execution
WHERE team_id = %(team)s AND started_at >= %(start)s AND started_at < %(end)s
  AND (%(agent)s = '' OR agent_name = %(agent)s) AND (%(model)s = '' OR model = %(model)s)
  AND (%(version)s = '' OR version = %(version)s)
"""


def _events(now, n, seed, prefix):
    rng = random.Random(seed)
    events = []
    for i in range(n):
        event = {
            "id": f"{prefix}-{i}",
            "agent": rng.choice(["planner", "coder"]),
            "model": rng.choice(["gpt-4o", "unpriced-model"]),
            "agent_version": rng.choice(["1.0", "1.1"]),
            "started_at": (now - dt.timedelta(seconds=rng.randint(60, 26 * 3600))).isoformat(),
            "duration_ms": float(rng.randint(1, 20000)),
            "status": "error" if rng.random() < 0.2 else "success",
            "input_tokens": rng.randint(0, 500),
            "output_tokens": rng.randint(0, 200),
        }
        if rng.random() < 0.5:
            event["quality"] = rng.choice([10, 33.5, 60, 99])
        if rng.random() < 0.3:
            event["cost"] = round(rng.random(), 6)
        events.append(event)
    return events


def _raw(team, tick, scope):
    window, agent, model, version = scope
    params = {"team": team.pk, "start": tick - dt.timedelta(minutes=window), "end": tick}
    with connection.cursor() as cursor:
        cursor.execute(RAW_SQL, params | {"agent": agent, "model": model, "version": version})
        names = [c.name for c in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def _hist_percentile(durations, q):
    hist = histogram.empty()
    for d in durations:
        hist[histogram.bucket_of(d)] += 1
    return histogram.percentile(hist, q)


SCOPES = [
    (window, agent, model, version)
    for window in WINDOWS
    for agent, model, version in [("", "", ""), ("planner", "", ""), ("coder", "gpt-4o", "1.1"), ("", "", "1.0")]
]


def _assert_matches_raw(team, tick):
    figures = alert_window_figures(team=team, tick=tick, scopes=SCOPES, quality_windows=WINDOWS)
    for scope in SCOPES:
        got, raw = figures[scope], _raw(team, tick, scope)
        assert got["executions"] == raw["executions"], scope
        assert got["errors"] == raw["errors"], scope
        assert got["input_tokens"] + got["output_tokens"] == raw["tokens"], scope
        assert got["cost"] == raw["cost"], scope
        assert got["unpriced"] == raw["unpriced"], scope
        assert got["quality_samples"] == raw["quality_n"], scope
        expected_quality = None if raw["quality"] is None else round(raw["quality"], 2)
        assert got["avg_quality"] == pytest.approx(expected_quality), scope
        if raw["executions"]:
            assert got["p95_ms"] == round(_hist_percentile(raw["durations"], 0.95), 1), scope
    return figures


@pytest.mark.parametrize("minute", [0, 1, 29, 59])
def test_every_window_and_scope_equals_the_raw_executions(team, other_team, minute):
    now = tick_of(dt.datetime.now(dt.UTC))
    executions_ingest(team=team, events=_events(now, 900, 1, "a"))
    executions_ingest(team=other_team, events=_events(now, 200, 2, "b"))
    tick = now.replace(minute=minute) - dt.timedelta(hours=1)  # any minute of the hour
    figures = _assert_matches_raw(team, tick)
    assert figures[(1440, "", "", "")]["executions"] > 500


def test_one_statement_reads_rollups_only(team, django_assert_num_queries):
    now = tick_of(dt.datetime.now(dt.UTC))
    executions_ingest(team=team, events=_events(now, 200, 3, "c"))
    with django_assert_num_queries(1) as captured:
        alert_window_figures(team=team, tick=now - dt.timedelta(minutes=17), scopes=SCOPES, quality_windows=WINDOWS)
    sql = captured.captured_queries[0]["sql"]
    assert "observability_execution" not in sql
    assert "observability_minuterollup" in sql and "observability_hourlyrollup" in sql


def test_minutes_older_than_their_retention_are_read_from_raw_executions(team, monkeypatch):
    now = tick_of(dt.datetime.now(dt.UTC))
    executions_ingest(team=team, events=_events(now, 600, 4, "d"))
    monkeypatch.setattr(conf, "MINUTE_RETENTION_HOURS", 2)  # shorter than a day's window
    assert minute_rollups_purge() > 0
    _assert_matches_raw(team, now - dt.timedelta(minutes=23))
