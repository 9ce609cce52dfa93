"""The shared kits: one recommendation type with one ordering, and raw SQL with names."""

import datetime as dt
from typing import NamedTuple

import pytest

from crucible import sql
from crucible.rules import (
    COUNT,
    DURATION,
    HIGH,
    INFO,
    LOW,
    MEDIUM,
    MONEY,
    NUMBER,
    PERCENT,
    TIME,
    Figure,
    Recommendation,
    run_rules,
)


def rec(code, severity, impact=0.0, subject=""):
    return Recommendation(code=code, severity=severity, title=code, message="do it", subject=subject, impact=impact)


def test_run_rules_orders_by_severity_then_impact():
    def first(ctx):
        yield rec("small-high", HIGH, impact=1)
        yield rec("info", INFO, impact=1000)

    def second(ctx):
        return [rec("big-high", HIGH, impact=50), rec("low", LOW), rec("medium", MEDIUM, impact=float("inf"))]

    assert [r.code for r in run_rules([first, second], None)] == ["big-high", "small-high", "medium", "low", "info"]


def test_unknown_severity_or_kind_is_refused():
    with pytest.raises(ValueError):
        rec("x", "urgent")
    with pytest.raises(ValueError):
        Figure("x", "X", 1, "furlongs")


def test_evidence_keeps_raw_values_for_the_api_and_labels_rounded_figures_for_pages():
    r = Recommendation(
        code="c",
        severity=MEDIUM,
        title="t",
        message="m",
        subject="coder",
        evidence=(
            Figure("share", "Share of builds", 0.40909090909090906, PERCENT),
            Figure("p95_ms", "p95 duration", 138865.9, DURATION),
            Figure("cost", "Cost", 0.0012345, MONEY),
            Figure("builds", "Builds", 12345, COUNT),
            Figure("p_value", "p-value", 0.00031, NUMBER),
            Figure("at", "Last change", dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), TIME),
            Figure("missing", "Average quality", None, NUMBER),
        ),
    )
    data = r.as_dict(subject_key="agent")
    assert data["evidence"]["share"] == 0.40909090909090906 and data["agent"] == "coder"
    assert {k: data[k] for k in ("kind", "severity", "title", "action")} == {
        "kind": "c",
        "severity": MEDIUM,
        "title": "t",
        "action": "m",
    }
    shown = [(f.label, f.display) for f in data["figures"]]
    assert shown == [
        ("Share of builds", "40.9%"),
        ("p95 duration", "2.3 min"),
        ("Cost", "$0.0012"),
        ("Builds", "12,345"),
        ("p-value", "0.00031"),
        ("Last change", "2026-01-02 03:04 UTC"),
        ("Average quality", "—"),
    ]


class Pair(NamedTuple):
    n: int
    label: str


@pytest.mark.django_db
def test_fetch_rows_takes_named_parameters_and_returns_named_rows():
    rows = sql.fetch_rows(
        "SELECT g AS n, %(prefix)s || g::text AS label FROM generate_series(1, %(count)s) g ORDER BY g",
        {"prefix": "row-", "count": 2},
        Pair,
    )
    assert rows == [Pair(1, "row-1"), Pair(2, "row-2")] and rows[1].label == "row-2"
    assert sql.fetch_one("SELECT 1 AS one WHERE %(never)s", {"never": False}) is None
    assert sql.fetch_rows("SELECT 50 AS pct, '100%%' AS text")[0] == {"pct": 50, "text": "100%"}
    with pytest.raises(TypeError):
        sql.fetch_rows("SELECT %s AS x", [1])


# The kinds of columns the rollup reads return in binary format (crucible.sql.fetch_rows(binary=True)).
MIXED_ROW = """
SELECT 'coder ünï <x>'::text AS agent, 12345678901::bigint AS n, 7::int4 AS small, 2.5::float8 AS ms,
       12.34567890::numeric(20, 8) AS cost, NULL::numeric AS none, true AS flag,
       TIMESTAMPTZ '2026-11-30 19:00:00+00' AS at, DATE '2026-11-30' AS day,
       ARRAY[0, 3, 12345678901]::bigint[] AS hist, ARRAY[1.5, 2]::float8[]::bigint[] AS rounded
"""


@pytest.mark.django_db
def test_binary_rows_hold_the_values_of_the_text_rows():
    text, binary = sql.fetch_rows(MIXED_ROW), sql.fetch_rows(MIXED_ROW, binary=True)
    assert binary == text
    assert [type(v) for v in binary[0].values()] == [type(v) for v in text[0].values()]
    assert binary[0]["at"].tzinfo == dt.UTC and binary[0]["hist"] == [0, 3, 12345678901]


@pytest.mark.django_db
def test_rows_in_text_read_any_type_as_python_does():
    # An enum (the worker's job status) has no binary loader: read in text, it is its label. The
    # worker's status page reads it so; binary rows are only asked for by the rollup reads.
    row = sql.fetch_one("SELECT 'doing'::procrastinate_job_status AS status")
    assert row == {"status": "doing"}
