"""Checks on the chart specs a page embeds (``json_script`` blocks read by static/crucible/charts.js)."""

from __future__ import annotations

import json
import re

# A name a user may choose; plotly would draw it as a live link and bold text if it were not escaped.
EVIL = '<a href="//evil">x</a><b>y</b>'
EVIL_ESCAPED = '&lt;a href="//evil"&gt;x&lt;/a&gt;&lt;b&gt;y&lt;/b&gt;'


def chart_specs(html: str) -> dict[str, dict]:
    """{script id: spec} of every chart on the page (a json_script a chart div draws from)."""
    sources = set(re.findall(r'data-chart-source="([^"]+)"', html))
    specs = {}
    for script_id, body in re.findall(r'<script id="([^"]+)" type="application/json">(.*?)</script>', html, re.S):
        if script_id in sources:
            specs[script_id] = json.loads(body)
    assert specs, "no chart on the page"
    return specs


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def assert_evil_name_escaped(specs: dict[str, dict], *, expected_in: list[str]) -> None:
    """No chart holds the markup as markup; the charts in ``expected_in`` show it, escaped."""
    for script_id, spec in specs.items():
        texts = list(strings(spec))
        live = [t for t in texts if "<a " in t or "<b>" in t or "</a>" in t]
        assert not live, (script_id, live)
        if script_id in expected_in:
            assert any(EVIL_ESCAPED in t for t in texts), (script_id, texts[:20])
