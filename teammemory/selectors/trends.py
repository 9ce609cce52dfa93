"""The quality trend: weekly quality and success rate with their fitted slope and its test."""

from __future__ import annotations

import datetime as dt
import math

from crucible.sql import fetch_rows
from teammemory import conf, rollups
from teammemory.stats import slope_test


def quality_trend(*, team, since: dt.datetime, until: dt.datetime) -> dict:
    """Average quality and success rate per ISO week (weeks start on Monday, UTC), with the OLS
    slope of each against the week number (regr_slope / regr_r2 / regr_count), its t-test, and
    a direction that is "rising" or "falling" only when the slope is significant. Read from the
    daily rollups (exact: weeks are made of whole days)."""
    src, params = rollups.source("stack", team.pk, since, until, hist=False)
    sql = f"""
        WITH weeks AS (
            SELECT date_trunc('week', r.day::timestamp) AS week,
                   sum(r.builds)::bigint AS builds,
                   sum(r.scored)::bigint AS scored,
                   sum(r.quality_sum)::float / nullif(sum(r.scored), 0) AS avg_quality,
                   sum(r.succeeded)::bigint AS succeeded,
                   sum(r.succeeded + r.failed)::bigint AS decided
            FROM {src} r
            GROUP BY 1
        ), points AS (
            SELECT weeks.*,
                   extract(epoch FROM week)::float / 604800.0 AS x,
                   CASE WHEN decided > 0 THEN succeeded::float / decided END AS success_rate
            FROM weeks
        ), fit AS (
            SELECT regr_slope(avg_quality, x) AS q_slope, regr_r2(avg_quality, x) AS q_r2,
                   regr_count(avg_quality, x) AS q_n, regr_intercept(avg_quality, x) AS q_intercept,
                   regr_slope(success_rate, x) AS s_slope, regr_r2(success_rate, x) AS s_r2,
                   regr_count(success_rate, x) AS s_n, regr_intercept(success_rate, x) AS s_intercept
            FROM points
        )
        SELECT points.week, points.builds, points.scored, points.avg_quality, points.succeeded,
               points.decided, points.success_rate, points.x, fit.*
        FROM points CROSS JOIN fit
        ORDER BY points.week
    """
    rows = fetch_rows(sql, params)
    weeks = [
        {
            "week": row["week"].date().isoformat(),
            "builds": row["builds"],
            "avg_quality": row["avg_quality"],
            "success_rate": row["success_rate"],
        }
        for row in rows
    ]
    fit = rows[0] if rows else {}

    def describe(prefix: str, unit: str) -> dict:
        slope, r2, n = fit.get(f"{prefix}_slope"), fit.get(f"{prefix}_r2"), fit.get(f"{prefix}_n") or 0
        test = slope_test(slope=slope, r2=r2, n=n)
        enough = n >= max(conf.TREND_MIN_WEEKS, 3)
        significant = bool(enough and test["p_value"] is not None and test["p_value"] < conf.TREND_ALPHA)
        if not enough:
            direction = "insufficient_data"
        elif not significant or not slope:
            direction = "flat"
        else:
            direction = "rising" if slope > 0 else "falling"
        return {
            "slope_per_week": slope,
            "unit": unit,
            "r2": r2,
            "weeks": n,
            "t": None if test["t"] is None or math.isinf(test["t"]) else test["t"],
            "p_value": test["p_value"],
            "significant": significant,
            "alpha": conf.TREND_ALPHA,
            "direction": direction,
        }

    quality = describe("q", "quality points per week")
    success = describe("s", "success rate per week")
    # Fitted line for the chart (PostgreSQL's intercept and slope at each week's x).
    for week, row in zip(weeks, rows, strict=True):
        if fit.get("q_slope") is not None:
            week["quality_fit"] = row["q_intercept"] + row["q_slope"] * row["x"]
    return {"weeks": weeks, "quality": quality, "success_rate": success}
