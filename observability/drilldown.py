"""Drill-down: the URL of the rows behind a figure.

Every chart point, table row and finding of the observability pages leads to the executions list
(``/observability/executions/``) filtered to what the figure counted: its time bucket or the
page's period, and the page's filters (agent, model, status, version, error type). One function
builds those links, so the list's filter names are written once (``ExecutionFilterSet``).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, quote_plus, urlencode

from django.urls import NoReverseMatch, reverse
from django.utils.http import RFC3986_SUBDELIMS

from crucible import periods
from observability.converters import AnyTextIdConverter

# Filter names of ExecutionFilterSet that a link may carry, in the order they appear in the URL.
FILTERS = ("agent", "model", "version", "unversioned", "status", "error_type", "variant", "build", "trace_id")


def executions_url(
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    ordering: str = "",
    **filters,
) -> str:
    """The executions page filtered to [start, end) and ``filters`` (empty ones left out)."""
    return _with_query(reverse("observability:executions"), start=start, end=end, ordering=ordering, **filters)


def _with_query(base: str, *, start=None, end=None, ordering: str = "", **filters) -> str:
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise TypeError(f"Not an execution filter: {', '.join(sorted(unknown))}")
    query = [(name, _text(filters[name])) for name in FILTERS if filters.get(name) not in (None, "", False)]
    if start is not None:
        query.append(("started_after", periods.iso(start)))
    if end is not None:
        query.append(("started_before", periods.iso(end)))
    if ordering:
        query.append(("ordering", ordering))
    return f"{base}?{urlencode(query)}" if query else base


def _text(value) -> str:
    return "true" if value is True else str(value)


def period_url(period, *, ordering: str = "", **filters) -> str:
    """The executions of a whole period (a table row: an agent, an error type, a version)."""
    return executions_url(start=period.start, end=period.end, ordering=ordering, **filters)


def period_urls(period, filters: list[dict], *, ordering: str = "") -> list[str]:
    """``period_url`` for each of ``filters`` (a table's rows): the executions page reversed and
    the period (with ``ordering``) encoded once; each row encodes only its filters, which come
    first in ``_with_query``'s text."""
    base = reverse("observability:executions")
    tail = _with_query("", start=period.start, end=period.end, ordering=ordering)[1:]
    return [f"{head}{'&' if '?' in head else '?'}{tail}" for head in (_with_query(base, **f) for f in filters)]


def bucket_urls(series: list[dict], period, **filters) -> list[str]:
    """One URL per point of a time series (``point["time"]`` is its bucket start): the executions
    of that bucket, within the period, with the page's filters."""
    width = periods.BUCKETS[period.bucket]
    # The filters' part of the query is encoded once (a live chart has 60 points, four charts); the
    # text is ``_with_query``'s: filters first, then started_after and started_before.
    head = _with_query(reverse("observability:executions"), **filters)
    head += "&" if "?" in head else "?"
    return [
        f"{head}started_after={quote_plus(periods.iso(max(p['time'], period.start)))}"
        f"&started_before={quote_plus(periods.iso(min(p['time'] + width, period.end)))}"
        for p in series
    ]


def execution_url(pk: int) -> str:
    return reverse("observability:execution", args=[pk])


def execution_url_maker():
    """``execution_url`` for the rows of a long list: the route is reversed once (a reverse per
    row was a fifth of a 1,000-span trace page)."""
    marker = 987654321
    head, tail = execution_url(marker).split(str(marker))
    return lambda pk: f"{head}{int(pk)}{tail}"


# The characters ``reverse`` keeps as they are in a path argument (RFC 3986's pchar).
_PATH_SAFE = RFC3986_SUBDELIMS + "/~:@"


def agent_url_maker():
    """``reverse("observability:agent", args=[name])`` for the rows of a table (the dashboard's
    200 agents): the route is reversed once and each name quoted as ``reverse`` quotes it."""
    head, tail = _route_around("observability:agent")
    return lambda name: f"{head}{quote(name, safe=_PATH_SAFE)}{tail}"


def trace_url_maker():
    """``reverse("observability:trace", args=[trace_id])`` for the rows of a long list."""
    return _any_id_url_maker("observability:trace")


def session_url_maker():
    """``reverse("observability:session", args=[session_id])`` for the rows of a long list."""
    return _any_id_url_maker("observability:session")


def _any_id_url_maker(name: str):
    """``reverse(name, args=[an id])`` for a route whose argument is any text (``anyid``,
    observability/converters.py): the route reversed once, each id escaped by the converter and
    quoted as ``reverse`` does (an empty id, which the route refuses, is never a row's)."""
    head, tail = _route_around(name)
    to_url = AnyTextIdConverter().to_url
    return lambda value: f"{head}{quote(to_url(value), safe=_PATH_SAFE)}{tail}"


def _route_around(name: str) -> tuple[str, str]:
    """The path of route ``name`` before and after its one text argument."""
    marker = "987654321"
    head, tail = reverse(name, args=[marker]).split(marker)
    return head, tail


def trace_url(trace_id: str, *, span: int | None = None) -> str:
    """The trace page of a trace id (``/observability/traces/<trace_id>/``); with ``span`` (a span's
    row id, as an execution's page gives it) that span selected."""
    try:
        url = reverse("observability:trace", args=[trace_id])
    except NoReverseMatch:
        url = f"/observability/traces/{quote(trace_id, safe='')}/"
    return f"{url}?span={int(span)}#span-detail" if span is not None else url


# A finding's rows: which filter or order shows what the finding is about (else the agent's runs).
FINDING_ROWS = {
    "failing_agent": {"status": "error"},
    "slow_agent": {"ordering": "-duration"},
    "version_regression": {"ordering": "-duration"},
    "token_heavy_prompt": {"ordering": "-cost"},
}


def finding_urls(findings: list[dict], period) -> list[str]:
    """The rows behind each recommendation (``as_dict`` with ``agent``) in its period, the
    executions page reversed once: an expensive model's finding opens that model's runs, the
    others the agent's runs in the order of ``FINDING_ROWS``."""
    base = reverse("observability:executions")
    urls = []
    for finding in findings:
        extra = dict(FINDING_ROWS.get(finding.get("kind", ""), {}))
        if finding.get("kind") == "expensive_model":
            extra["model"] = finding.get("evidence", {}).get("model", "")
        urls.append(_with_query(base, start=period.start, end=period.end, agent=finding.get("agent", ""), **extra))
    return urls


def regression_url(regression: dict, period) -> str:
    """The rows behind a regression: the new version's runs, or the agent's runs of the period,
    slowest first."""
    version = regression.get("version_after") if regression.get("kind") == "version" else None
    return period_url(period, agent=regression["agent"], version=version, ordering="-duration")
