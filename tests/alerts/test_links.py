"""One click from an observability recommendation or regression to a prefilled rule form."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.django_db


def _links(html: str) -> list[dict]:
    found = re.findall(r'<a href="([^"]+)" class="create-alert">', html)
    return [{k: v[0] for k, v in parse_qs(urlsplit(html_lib.unescape(url)).query).items()} for url in found]


def test_recommendation_and_regression_link_to_a_prefilled_rule(client, member, team, ingest):
    now = dt.datetime.now(dt.UTC)
    # "coder" fails 30% of its runs in the last hours, and failed none the day before.
    ingest(team, at=now - dt.timedelta(hours=30), n=40, agent="coder")
    ingest(team, at=now - dt.timedelta(hours=2), n=28, agent="coder")
    ingest(team, at=now - dt.timedelta(hours=2), n=12, agent="coder", status="error")
    client.force_login(member)
    recommended = _links(client.get("/observability/recommendations/").content.decode())
    assert {"metric": "error_rate", "agent_name": "coder", "warning_threshold": "0.1"}.items() <= next(
        link for link in recommended if link["metric"] == "error_rate"
    ).items()
    regressed = _links(client.get("/observability/bottlenecks/").content.decode())
    link = next(link for link in regressed if link["metric"] == "error_rate")
    assert (link["agent_name"], float(link["warning_threshold"])) == ("coder", pytest.approx(0.3))
    form = client.get("/alerts/rules/new/", link).context["form"]
    assert form.initial["metric"] == "error_rate" and form.initial["agent_name"] == "coder"
    assert form.initial["window_minutes"] == "60"
