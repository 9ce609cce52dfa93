"""The long tables of the observability pages (the dashboard's agent table, the trace tree) are
template loops whose routes are reversed once: the page shows what the plain loop (a ``{% url %}``
and a drill-down tag per row) showed, with every text escaped."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines
from django.urls import reverse

from observability import drilldown, selectors
from observability.models import Execution
from tests.observability.trace_factory import make_trace, span_hex

pytestmark = pytest.mark.django_db

NASTY = "<b>\"x\" & 'y'</b>"

# The dashboard's agent table as the plain template loop rendered it.
AGENT_LOOP = """{% load crucible_format observability_links %}{% for a in agents %}
  <tr>
    <td><a href="{% url 'observability:agent' a.agent %}?{{ query }}">{{ a.agent }}</a><br><span class="muted">{{ a.models|join:", " }}</span></td>
    <td class="num"><a href="{% executions_url period agent=a.agent model=data.filters.model status=data.filters.status %}">{{ a.executions|number }}</a></td>
    <td class="num">{% if a.error_rate >= 0.1 %}<span class="badge badge-bad">{{ a.success_rate|percent }}</span>{% else %}{{ a.success_rate|percent }}{% endif %}</td>
    <td class="num">{{ a.p50_ms|duration }}</td><td class="num">{{ a.p95_ms|duration }}</td><td class="num">{{ a.p99_ms|duration }}</td>
    <td class="num">{{ a.input_tokens|number }}</td><td class="num">{{ a.output_tokens|number }}</td>
    <td class="num">{% if a.unpriced == a.executions %}<span class="badge badge-warn">unpriced</span>{% else %}{{ a.cost|money }}{% endif %}</td>
    <td class="num">{% if a.unpriced %}<span class="badge badge-warn">{{ a.unpriced|number }}</span>{% else %}0{% endif %}</td>
  </tr>{% endfor %}"""  # noqa: E501

# The trace tree's rows as the plain template loop rendered them (a reverse per row).
SPAN_LOOP = """{% load crucible_format observability_links %}{% for s in spans %}<tr id="span-{{ s.id }}" class="span-row{% if s.status == 'error' %} span-error{% endif %}{% if selected and s.id == selected.tree.id %} span-selected{% endif %}"><td class="span-name indent-{{ s.indent }}"><a href="?span={{ s.id }}#span-detail" class="span-link">{{ s.name|default:s.kind }}</a> <span class="kind kind-{{ s.kind }}">{{ s.kind }}</span>{% if s.orphan %} <span class="badge badge-warn" title="Its parent has not arrived">orphan</span>{% endif %}{% if s.status == "error" %} <span class="badge badge-bad" title="{{ s.error_message|slice:':200' }}">{{ s.error_type|default:"error" }}</span>{% endif %} <a href="{{ s.id|execution_url }}" class="span-execution" title="This span's execution page">run {{ s.id }}</a></td><td class="waterfall"><svg viewBox="0 0 1000 12" preserveAspectRatio="none" role="img" aria-label="from {{ s.offset_ms|duration }}, {{ s.duration_ms|duration }}"><rect x="{{ s.bar_x }}" y="1" width="{{ s.bar_w }}" height="10" class="bar bar-{{ s.kind }}{% if s.status == 'error' %} bar-error{% endif %}"/></svg></td><td class="num">{{ s.duration_ms|duration }}</td><td class="num">{% if s.input_tokens or s.output_tokens %}{{ s.input_tokens|number }} / {{ s.output_tokens|number }}{% endif %}</td><td class="num">{% if s.cost is not None %}{{ s.cost|money }}{% endif %}</td></tr>{% endfor %}"""  # noqa: E501


def _rows(html: str, table_id: str) -> str:
    """The body of the table ``table_id`` with its whitespace folded."""
    table = html.split(f'id="{table_id}"', 1)[1]
    return " ".join(table.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split())


def _loop(source: str, context: dict) -> str:
    return " ".join(engines["django"].from_string(source).render(context).split())


def test_dashboard_agent_table_is_what_the_plain_template_loop_showed(client, member, team, ingest, event_factory):
    ingest(
        team,
        [event_factory(agent=NASTY, model="m<1>", status="error") for _ in range(3)]
        + [event_factory(agent="a/b c%", model="") for _ in range(5)]
        + [event_factory(agent="priced", model="gpt-4o", duration_ms=d) for d in (10.0, 900.0, 70000.0)]
        + [event_factory(agent="unpriced", model="no-price-model")],
    )
    client.force_login(member)
    for params in ({"range": "24h", "q": "a'b"}, {"range": "24h", "model": "m<1>", "status": "error"}):
        response = client.get("/observability/", params)
        assert response.status_code == 200
        html = response.content.decode()
        context = {name: response.context[name] for name in ("data", "period", "query", "agents")}
        assert len(context["agents"]) >= 1
        assert _rows(html, "agents-table") == _loop(AGENT_LOOP, context)
    html = client.get("/observability/", {"q": "a'b"}).content.decode()
    rows = _rows(html, "agents-table")
    assert "&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;" in rows and NASTY not in rows
    assert f'href="{reverse("observability:agent", args=["a/b c%"])}?q=a%27b"' in rows
    assert '<span class="badge badge-bad">0.0%</span>' in rows  # all three runs failed
    assert '<span class="badge badge-warn">unpriced</span>' in rows


# The bottlenecks page's three agent tables as the plain template loops rendered them.
BOTTLENECK_LOOPS = {
    "by-time": """{% load crucible_format observability_links %}{% for i in data.by_time %}<tr><td><a href="{% url 'observability:agent' i.agent %}?{{ query }}">{{ i.agent }}</a></td><td class="num">{{ i.time_share|percent }}</td><td class="num"><a href="{% executions_url period agent=i.agent ordering="-duration" %}">{{ i.total_duration_ms|duration }}</a></td><td class="num">{{ i.executions|number }}</td></tr>
{% empty %}<tr><td colspan="4" class="muted">No data.</td></tr>{% endfor %}""",
    "by-cost": """{% load crucible_format observability_links %}{% for i in data.by_cost %}<tr><td><a href="{% url 'observability:agent' i.agent %}?{{ query }}">{{ i.agent }}</a></td><td class="num">{{ i.cost_share|percent }}</td><td class="num"><a href="{% executions_url period agent=i.agent ordering="-cost" %}">{{ i.cost|money }}</a></td></tr>
{% empty %}<tr><td colspan="3" class="muted">No data.</td></tr>{% endfor %}""",
    "by-p95": """{% load crucible_format observability_links %}{% for i in data.by_p95 %}<tr><td><a href="{% url 'observability:agent' i.agent %}?{{ query }}">{{ i.agent }}</a></td><td class="num"><a href="{% executions_url period agent=i.agent ordering="-duration" %}">{{ i.p95_ms|duration }}</a></td><td class="num">{% if i.p95_vs_fleet is None %}{{ i.p95_vs_fleet|number }}{% else %}{{ i.p95_vs_fleet|number:2 }}×{% endif %}</td><td class="num">{{ i.executions|number }}</td></tr>
{% empty %}<tr><td colspan="4" class="muted">No data.</td></tr>{% endfor %}""",
}  # noqa: E501


def test_dashboard_agent_table_is_paginated_busiest_first(client, member, team, ingest, event_factory):
    # 53 agents: agent-52 ran three times, each of the others once (ties are listed by name).
    ingest(team, [event_factory(agent=f"agent-{i:02}", model="gpt-4o") for i in [*range(53), 52, 52]])
    client.force_login(member)
    first = client.get("/observability/", {"range": "24h", "model": "gpt-4o"})
    html = first.content.decode()
    names = re.findall(r">(agent-\d\d)</a>", _rows(html, "agents-table"))
    assert names == ["agent-52", *[f"agent-{i:02}" for i in range(49)]]
    assert "1–50 of 53 agents" in html
    # The totals and the filter choices still cover every agent, not only the page's.
    assert first.context["data"]["totals"]["executions"] == 55
    assert len(first.context["form"].fields["agent"].choices) == 53 + 1
    # The next page keeps the period and filters; the rows' links and the tabs do not carry the page.
    next_url = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert next_url == "?range=24h&model=gpt-4o&page=2"
    second_response = client.get("/observability/" + next_url)
    second = second_response.content.decode()
    # The figures of the agents shown (computed for the page only) are the API's figures of them.
    full = selectors.dashboard(team=team, period=first.context["period"], model="gpt-4o")["agents"]
    assert first.context["agents"].items == full[:50] and second_response.context["agents"].items == full[50:]
    assert full[0]["executions"] == 3 and full[0]["p95_ms"] is not None
    assert re.findall(r">(agent-\d\d)</a>", _rows(second, "agents-table")) == ["agent-49", "agent-50", "agent-51"]
    assert "51–53 of 53 agents" in second and 'rel="next"' not in second
    assert "page=" not in _rows(second, "agents-table")
    assert '?range=24h&amp;model=gpt-4o"' in second.split('id="agents-table"')[0]  # the tabs
    # Out-of-range and malformed page numbers give the nearest page, never an error.
    for page in ("99", "0", "x"):
        assert client.get("/observability/", {"page": page}).status_code == 200


def test_the_agents_of_each_table_page_have_their_figures_and_only_they_are_summed(
    client, member, team, ingest, event_factory
):
    # 120 agents that ran once each (ties everywhere, listed by name in code point order: capitals,
    # then small letters, then accents), with durations that differ, so every p95 differs.
    names = [f"{prefix}{i:02}" for prefix in ("Agent-", "agent-", "ägent-") for i in range(40)]
    ingest(team, [event_factory(agent=name, duration_ms=10.0 * (1 + n)) for n, name in enumerate(names)])
    client.force_login(member)
    full = selectors.dashboard(team=team, period=selectors.time_range("24h"))["agents"]  # the API's figures
    assert [a["agent"] for a in full] == sorted(names)
    for page, shown in ((1, full[:50]), (2, full[50:100]), (3, full[100:]), (9, full[100:])):
        response = client.get("/observability/", {"range": "24h", "page": page})
        assert response.context["agents"].items == shown
        assert all(a["p95_ms"] is not None for a in shown)
    # On the first page the histograms of the agents after the first 50 were not summed.
    rows = client.get("/observability/", {"range": "24h"}).context["data"]["agents"]
    assert [a["row"]["hist"] is not None for a in rows] == [True] * 50 + [False] * 70


def test_bottleneck_tables_are_what_the_plain_template_loops_showed(client, member, team, ingest, event_factory):
    ingest(
        team,
        [event_factory(agent=NASTY, model="m<1>", duration_ms=d) for d in (5.0, 50.0, 5000.0)]
        + [event_factory(agent="a/b c%", model="gpt-4o", duration_ms=900.0) for _ in range(4)]
        + [event_factory(agent="quick", model="gpt-4o", duration_ms=0.2)],
    )
    client.force_login(member)
    for params in ({"range": "24h", "q": "a'b"}, {"range": "7d"}):
        response = client.get("/observability/bottlenecks/", params)
        assert response.status_code == 200
        html = response.content.decode()
        context = {name: response.context[name] for name in ("data", "period", "query")}
        for table_id, loop in BOTTLENECK_LOOPS.items():
            assert _rows(html, table_id) == _loop(loop, context), table_id
    rows = _rows(html, "by-time")
    assert "&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;" in rows and NASTY not in rows
    assert "ordering=-duration" in rows and "ordering=-cost" in _rows(html, "by-cost")


def test_dashboard_without_executions_says_so(client, member):
    client.force_login(member)
    rows = _rows(client.get("/observability/").content.decode(), "agents-table")
    assert rows.startswith('<tr><td colspan="10" class="muted">No executions in this period.')


@pytest.mark.parametrize("name", ["a/b c%", NASTY, "ünï cödé", "x?y#z", "..", "!$&'()*+,;=:@~", "%2F"])
def test_agent_url_maker_gives_reverse_s_url(name):
    assert drilldown.agent_url_maker()(name) == reverse("observability:agent", args=[name])


def test_trace_tree_rows_are_what_the_plain_template_loop_showed(client, member, team):
    make_trace(team, spans=7, error_at=3, missing_parents=1)
    named = Execution.objects.get(team=team, span_id=span_hex(2))
    named.name = NASTY
    named.save(update_fields=["name"])
    Execution.objects.filter(team=team, span_id=span_hex(3)).update(
        error_message="<Traceback> " + "é\"'&" * 100, error_type="Tool<Error>"
    )
    # A kind no ingest path accepts and a cost shown as "<$0.0001": the loop escapes them too.
    Execution.objects.filter(team=team, span_id=span_hex(4)).update(kind='<i>"k"&', cost=Decimal("0.00001"))
    client.force_login(member)
    for query in ("", f"?span={named.pk}"):
        response = client.get(f"/observability/traces/{'a' * 32}/{query}")
        assert response.status_code == 200
        html = response.content.decode()
        context = {"spans": response.context["spans"], "selected": response.context["selected"]}
        assert _rows(html, "span-tree") == _loop(SPAN_LOOP, context)
    rows = _rows(html, "span-tree")
    assert rows.count('class="span-row') == 7
    assert f'id="span-{named.pk}" class="span-row span-selected"' in rows
    assert f">{'&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;'}</a>" in rows and NASTY not in rows
    title = re.search(r'class="badge badge-bad" title="([^"]*)">Tool&lt;Error&gt;<', rows).group(1)
    assert title.startswith("&lt;Traceback&gt; é&quot;&#x27;&amp;") and title.count("é") == (200 - 12) // 4
    assert f'href="{reverse("observability:execution", args=[named.pk])}" class="span-execution"' in rows
    assert "kind-&lt;i&gt;&quot;k&quot;&amp;" in rows and "&lt;$0.0001" in rows


# Values the trace tree's loop writes without escaping (it runs with autoescape off: escaping
# was half of a 1,000-row loop's time). Each is built by the view from numbers and fixed words.
UNESCAPED_SPAN_VALUES = {
    "s.id",  # an integer primary key
    "s.indent",  # an integer
    "s.row_class",  # fixed class names
    "s.execution_url",  # a reversed route with an integer argument
    "s.offset",  # crucible.formatting.duration of a number: digits, unit letters, spaces
    "s.duration",
    "s.bar_x",  # floats
    "s.bar_w",
    "s.tokens",  # crucible.formatting.number of two integers
}


def test_trace_tree_loop_escapes_every_value_not_known_safe():
    source = (Path(settings.BASE_DIR) / "templates/observability/trace.html").read_text()
    block = source.split("{% autoescape off %}", 1)[1].split("{% endautoescape %}", 1)[0]
    values = [v.strip() for v in re.findall(r"{{(.*?)}}", block)]
    assert values, "the loop has values"
    for value in values:
        assert value.endswith("|escape") or value in UNESCAPED_SPAN_VALUES, value
    assert "{% autoescape off %}" not in source.split("{% endautoescape %}", 1)[1]


def test_trace_without_spans_says_so(client, member, team):
    make_trace(team, spans=1)
    Execution.objects.filter(team=team).delete()
    client.force_login(member)
    rows = _rows(client.get(f"/observability/traces/{'a' * 32}/").content.decode(), "span-tree")
    assert rows == '<tr><td colspan="5" class="muted">No spans have arrived yet.</td></tr>'


def test_recommendation_cards_link_where_a_url_per_card_linked(
    client, member, team, ingest, event_factory, monkeypatch
):
    """The cards' links are set by the view, each route reversed once: the agent's page (with the
    page's query) and the runs behind the finding, as ``{% url %}`` and the finding's drill-down
    (``period_url`` with the rows of ``FINDING_ROWS``) gave them per card."""
    from html import unescape

    from observability import conf

    monkeypatch.setattr(conf, "MIN_EXECUTIONS", 1)
    ingest(
        team,
        [event_factory(agent=NASTY, model="m<1>", status="error", duration_ms=900.0) for _ in range(3)]
        + [event_factory(agent="a/b c%", model="gpt-4o", status="error", duration_ms=5000.0) for _ in range(3)]
        + [event_factory(agent=f"ok-{i}", model="gpt-4o", duration_ms=10.0) for i in range(4)],
    )
    client.force_login(member)
    response = client.get("/observability/recommendations/", {"range": "24h", "q": "a'b"})
    html = response.content.decode()
    recs, period = response.context["recommendations"], response.context["period"]
    assert {r["agent"] for r in recs} >= {NASTY, "a/b c%"}
    for rec in recs:
        extra = dict(drilldown.FINDING_ROWS.get(rec["kind"], {}))
        if rec["kind"] == "expensive_model":
            extra["model"] = rec["evidence"].get("model", "")
        agent_link = f"{reverse('observability:agent', args=[rec['agent']])}?range=24h&q=a%27b"
        rows_link = drilldown.period_url(period, agent=rec["agent"], **extra)
        assert (rec["agent_url"], rec["rows_url"]) == (agent_link, rows_link)
    shown = [unescape(u) for u in re.findall(r'<a href="([^"]+)">Open ', html)]
    assert shown == [r["agent_url"] for r in recs]
    assert [unescape(u) for u in re.findall(r'class="finding-rows" href="([^"]+)"', html)] == [
        r["rows_url"] for r in recs
    ]
    assert "Open &lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;" in html and NASTY not in html
