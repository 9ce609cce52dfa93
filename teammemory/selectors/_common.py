"""Shared by the insight topics: build status values, the SQL sums of rollup rows, ``_rates``
and the period of the insights (``PERIOD_RULES``)."""

from __future__ import annotations

import datetime as dt

from crucible import periods
from crucible.money import money, money_average
from teammemory import conf, histogram, rollups
from teammemory.models import BuildStatus

SUCCEEDED, FAILED, CANCELLED = BuildStatus.SUCCEEDED.value, BuildStatus.FAILED.value, BuildStatus.CANCELLED.value


# Insights are read from the daily rollups.
# Whole UTC days come from the rollup tables, the partial days at the edges of the range from the
# raw builds shaped like rollup rows (teammemory.rollups.source): exact counts and sums for any
# range, at a cost that grows with days x groups rather than with builds. Medians and p90 come
# from the summed log-scale duration histogram (teammemory.histogram: nearest rank, within
# RELATIVE_ERROR of the exact value).

_OUTCOME_SUMS = """sum(r.builds)::bigint AS builds, sum(r.succeeded)::bigint AS succeeded,
       sum(r.failed)::bigint AS failed, sum(r.cancelled)::bigint AS cancelled,
       sum(r.quality_sum)::float / nullif(sum(r.scored), 0) AS avg_quality"""
_METRIC_SUMS = f"""{_OUTCOME_SUMS}, sum(r.tokens)::bigint AS total_tokens, sum(r.cost) AS total_cost,
       {rollups.HIST_SUM} AS hist"""


def _rates(row: dict) -> dict:
    """Success rate over decided builds (succeeded + failed; cancelled ones decide nothing) and its
    complement, the failure rate (DORA's change failure rate). A ``hist`` becomes the median and
    p90 duration."""
    out = dict(row)
    for key in ("builds", "succeeded", "failed", "cancelled"):
        out[key] = int(out.get(key) or 0)
    decided = out["succeeded"] + out["failed"]
    success = out["succeeded"] / decided if decided else None
    out["decided"] = decided
    out["success_rate"] = success
    out["failure_rate"] = None if success is None else 1 - success
    out["small_sample"] = out["builds"] < conf.MIN_SAMPLE
    if "hist" in out:
        hist = out.pop("hist")
        out["median_duration_ms"] = histogram.percentile(hist, 0.5)
        out["p90_duration_ms"] = histogram.percentile(hist, 0.9)
        builds = out["builds"]
        out["tokens_per_build"] = (out["total_tokens"] or 0) / builds if builds else None
        out["cost_per_build"] = money_average(out["total_cost"], builds)
        out["total_tokens"] = int(out["total_tokens"] or 0)
        out["total_cost"] = money(out["total_cost"])
    if out.get("avg_quality") is not None:
        out["avg_quality"] = float(out["avg_quality"])
    return out


# The period of the insights: presets of whole days ending with today (UTC); ``since``/``until``
# given alone are completed with the default length or now. Any span, back to year 1.
PERIOD_RULES = periods.PeriodRules(
    presets=tuple(dict.fromkeys(("30d", "90d", "180d", "365d", f"{conf.INSIGHTS_DEFAULT_DAYS}d"))),
    default=f"{conf.INSIGHTS_DEFAULT_DAYS}d",
    start_name="since",
    end_name="until",
    earliest=dt.datetime.min.replace(tzinfo=dt.UTC),
    latest=dt.datetime.max.replace(tzinfo=dt.UTC),
    max_length=None,
    custom_unit=None,
    start_help="Start (inclusive), ISO 8601; UTC if no offset is given.",
    end_help="End (exclusive). Default: now.",
)


def _complete_range(since, until) -> tuple[dt.datetime, dt.datetime]:
    """The insights period rule (``PERIOD_RULES``): bounds given are kept, a missing end is now, a
    missing start is the default length before the end; neither is the default preset."""
    period = periods.period_resolve(PERIOD_RULES, start=since, end=until)
    return period.start, period.end
