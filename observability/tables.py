"""Tables of the observability pages built in Python rather than in a template loop.

The dashboard's agent table has a row per agent (hundreds at a large team) with a dozen figures
and two links each; through Django's template engine that loop was most of the page's Python
time. As ``trace_views.span_rows_html`` does for the trace tree, the rows are formatted here with
the same formatting rules (``crucible.formatting``) and links (``observability.drilldown``), and
every text is escaped with ``html.escape``.
"""

from __future__ import annotations

from html import escape

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from crucible import formatting
from observability import drilldown

AGENT_ROW = (
    "<tr>\n"
    '    <td><a href="{agent_url}?{query}">{agent}</a><br><span class="muted">{models}</span></td>\n'
    '    <td class="num"><a href="{executions_url}">{executions}</a></td>\n'
    '    <td class="num">{success}</td>\n'
    '    <td class="num">{p50}</td><td class="num">{p95}</td><td class="num">{p99}</td>\n'
    '    <td class="num">{input_tokens}</td><td class="num">{output_tokens}</td>\n'
    '    <td class="num">{cost}</td>\n'
    '    <td class="num">{unpriced}</td>\n'
    "  </tr>\n"
)
BAD = '<span class="badge badge-bad">{}</span>'
WARN = '<span class="badge badge-warn">{}</span>'


def agent_rows_html(agents: list[dict], *, period, filters: dict, query: str) -> SafeString:
    """The dashboard's agent table body: name (its page, keeping the page's ``query``) and models,
    executions (the rows behind them, with the page's model and status ``filters``), success rate
    (a red badge from 10 % errors), p50/p95/p99, tokens, cost and unpriced runs."""
    links = drilldown.period_urls(
        period, [{"agent": a["agent"], "model": filters.get("model"), "status": filters.get("status")} for a in agents]
    )
    query = escape(query)
    rows = []
    for a, executions_url in zip(agents, links, strict=True):
        success = escape(formatting.percent(a["success_rate"]))
        error_rate = a["error_rate"]
        rows.append(
            AGENT_ROW.format(
                agent_url=escape(reverse("observability:agent", args=[a["agent"]])),
                query=query,
                agent=escape(a["agent"]),
                models=", ".join(escape(m) for m in a["models"]),
                executions_url=escape(executions_url),
                executions=escape(formatting.number(a["executions"])),
                success=BAD.format(success) if error_rate is not None and error_rate >= 0.1 else success,
                p50=escape(formatting.duration(a["p50_ms"])),
                p95=escape(formatting.duration(a["p95_ms"])),
                p99=escape(formatting.duration(a["p99_ms"])),
                input_tokens=escape(formatting.number(a["input_tokens"])),
                output_tokens=escape(formatting.number(a["output_tokens"])),
                cost=WARN.format("unpriced")
                if a["unpriced"] == a["executions"]
                else escape(formatting.money(a["cost"])),
                unpriced=WARN.format(escape(formatting.number(a["unpriced"]))) if a["unpriced"] else "0",
            )
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped or a fixed string
