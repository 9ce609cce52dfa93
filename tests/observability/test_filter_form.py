"""The executions page's yes/no filter reads Any / Yes / No and still filters."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_unpriced_filter_reads_any_yes_no_and_filters(client_for, member, ingest, team, event_factory):
    ingest(team, [event_factory(model="homegrown-llm"), event_factory(model="gpt-4o")])
    client = client_for(member)
    page = client.get("/observability/executions/").content.decode()
    unpriced = re.search(r'<select name="unpriced".*?</select>', page, re.S).group(0)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", unpriced) == ["Any", "Yes", "No"]
    assert "homegrown-llm" in page and "gpt-4o<" in page
    only = client.get("/observability/executions/?unpriced=true").content.decode()
    assert "homegrown-llm" in only and "gpt-4o<" not in only
    assert re.search(r'<option value="true" selected>Yes</option>', only)
