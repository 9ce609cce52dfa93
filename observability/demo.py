"""Demo data for Observability (called by `manage.py seed_demo`).

Four weeks of executions for 40 agents across the demo teams: log-normal latencies (each agent
its own median and spread), a working-hours traffic curve, failures with typed errors, several
models (one without a price, so the dashboard shows the unpriced warning), a token-heavy agent,
an agent on an expensive model where a cheaper one does as well, and a visible regression:
``code-reviewer`` got slower, more error-prone and wordier with version 2.4.0, six days ago.

Executions of an agent the marketplace demo published carry its real versions: each one names the
newest release published when it started (the marketplace demo dates Code Reviewer 2.4.0 six days
back). Agents that are not in the marketplace report no version.

Rows go in with one COPY per team (each an agent span alone in its trace, with its trace summary),
then the rollups are rebuilt once from the raw rows. Acme also gets traces with messages, tool
calls, sessions, end users, errors with stack traces and one 1,000-span trace (``demo_traces``).
"""

from __future__ import annotations

import datetime as dt
import math

from django.db import connection
from django.utils import timezone

from marketplace import selectors as marketplace_selectors
from marketplace import services as marketplace_services
from observability import demo_traces, services
from observability.ingest import spans
from observability.ingest.insert import COPY_COLUMNS, execution_copy_row
from observability.pricing import PriceBook

DAYS = 28

# slug, runs per day, median ms, sigma, error rate, models, input tokens, output tokens
ACME = [
    ("code-reviewer", 420, 4200, 0.45, 0.02, ["claude-sonnet-4-5"], 6000, 900),
    ("security-auditor", 160, 9000, 0.5, 0.03, ["claude-sonnet-4-5"], 9000, 1200),
    ("test-writer", 380, 6500, 0.6, 0.04, ["gpt-4.1", "gpt-4.1-mini"], 5000, 2200),
    ("flaky-test-hunter", 90, 15000, 0.7, 0.19, ["gpt-4o"], 12000, 800),
    ("meeting-summarizer", 120, 3500, 0.35, 0.01, ["gpt-4o-mini"], 7000, 600),
    ("release-notes-writer", 40, 5200, 0.4, 0.02, ["gpt-4o-mini"], 4000, 900),
    ("api-doc-generator", 60, 12000, 0.55, 0.03, ["gpt-4.1"], 15000, 3000),
    ("sql-optimizer", 110, 7000, 0.5, 0.02, ["o4-mini"], 3000, 1500),
    ("data-pipeline-debugger", 70, 11000, 0.6, 0.05, ["claude-sonnet-4-5"], 8000, 1400),
    ("dockerfile-doctor", 50, 2600, 0.4, 0.02, ["gpt-4o-mini"], 2000, 500),
    ("kubernetes-troubleshooter", 80, 48000, 0.65, 0.04, ["claude-opus-4-1"], 11000, 1800),
    ("terraform-planner", 45, 8000, 0.5, 0.03, ["gpt-4.1"], 6000, 1100),
    ("incident-scribe", 30, 2500, 0.3, 0.01, ["gpt-4o-mini"], 3000, 700),
    ("refactoring-coach", 150, 5500, 0.5, 0.03, ["gpt-4o", "gpt-4o-mini"], 4500, 1300),
    ("type-hint-adder", 200, 1800, 0.4, 0.01, ["gpt-4.1-nano"], 2500, 900),
    ("regex-explainer", 65, 900, 0.35, 0.005, ["gpt-4o-mini"], 600, 300),
    ("migration-reviewer", 55, 6000, 0.45, 0.02, ["claude-sonnet-4-5"], 5000, 800),
    ("accessibility-checker", 75, 4800, 0.45, 0.03, ["gemini-2.5-flash"], 6500, 900),
    ("doc-search", 300, 3800, 0.5, 0.02, ["gpt-4o-mini"], 26000, 500),
    ("support-triage", 600, 1400, 0.4, 0.015, ["gpt-4o-mini"], 1800, 250),
    ("bug-report-clarifier", 140, 2900, 0.45, 0.02, ["claude-haiku-4-5"], 2200, 600),
    ("dependency-upgrader", 35, 14000, 0.6, 0.06, ["o3"], 7000, 2500),
    ("log-analyzer", 260, 3300, 0.55, 0.03, ["gemini-2.5-pro"], 9000, 700),
    ("legacy-summarizer", 90, 2100, 0.4, 0.02, ["acme-finetune-v2"], 3000, 400),
]
GLOBEX = [
    ("code-reviewer", 200, 3900, 0.45, 0.02, ["gpt-4.1"], 5500, 800),
    ("test-writer", 150, 7000, 0.6, 0.05, ["claude-sonnet-4-5"], 5200, 2100),
    ("ux-copy-editor", 70, 1600, 0.35, 0.01, ["gpt-4o-mini"], 1500, 400),
    ("design-token-linter", 40, 2200, 0.4, 0.02, ["gpt-4.1-mini"], 3500, 500),
    ("user-story-splitter", 60, 4100, 0.45, 0.02, ["gpt-4o"], 3000, 1500),
    ("prd-critic", 25, 9500, 0.5, 0.03, ["claude-opus-4-1"], 12000, 2000),
    ("support-triage", 320, 1300, 0.4, 0.02, ["gpt-4o-mini"], 1700, 250),
    ("license-checker", 30, 2000, 0.4, 0.01, ["gpt-4.1-nano"], 2500, 600),
    ("threat-modeler", 20, 16000, 0.55, 0.04, ["o3"], 6000, 3000),
    ("log-analyzer", 180, 3100, 0.5, 0.03, ["gemini-2.5-flash"], 8000, 700),
]
INITECH = [
    ("incident-scribe", 50, 2400, 0.3, 0.01, ["gpt-4o-mini"], 3000, 700),
    ("sql-optimizer", 90, 6500, 0.5, 0.02, ["deepseek-reasoner"], 3200, 1700),
    ("data-pipeline-debugger", 60, 10000, 0.6, 0.05, ["gpt-4.1"], 7000, 1300),
    ("kubernetes-troubleshooter", 40, 21000, 0.6, 0.04, ["gpt-4o"], 9000, 1500),
    ("dockerfile-doctor", 45, 2500, 0.4, 0.02, ["gpt-4o-mini"], 2000, 500),
    ("terraform-planner", 35, 7800, 0.5, 0.03, ["claude-sonnet-4-5"], 6000, 1100),
]
ERRORS = [
    ("RateLimitError", "429 Too Many Requests from the model provider"),
    ("Timeout", "The model did not answer within 60 s"),
    ("ToolError", "Tool 'run_tests' exited with status 2"),
    ("ContextLengthExceeded", "The prompt is longer than the model's context window"),
    ("InvalidOutput", "The answer did not match the output schema"),
]
REGRESSION_AGENT = "code-reviewer"
REGRESSION_DAYS_AGO = 6


def _traffic(hour: int, weekday: int) -> float:
    """Relative traffic: a working-day curve, quieter at night and at weekends."""
    day = 0.35 + 0.65 * math.exp(-((hour - 14) ** 2) / 18)
    return day * (0.45 if weekday >= 5 else 1.0)


def _version_at(history, started):
    """(label, version id) of the newest release in ``history`` published by ``started`` (the
    first release when it came later; ("", None) without a history)."""
    if not history:
        return "", None
    current = history[0]
    for entry in history:
        if entry[0] > started:
            break
        current = entry
    return current[1], current[2]


def _rows(ctx, team, agents, start, now, agent_ids, histories):
    rng = ctx.rng
    hours = int((now - start).total_seconds() // 3600)
    weights = [
        _traffic((start + dt.timedelta(hours=h)).hour, (start + dt.timedelta(hours=h)).weekday()) for h in range(hours)
    ]
    mean_weight = sum(weights) / len(weights)
    regression_at = now - dt.timedelta(days=REGRESSION_DAYS_AGO)
    received = now
    n = 0
    for slug, per_day, median, sigma, error_rate, models, inp, out in agents:
        agent_id = agent_ids.get(slug)
        history = histories.get(slug, [])
        regressed = slug == REGRESSION_AGENT and team.slug == "acme"
        if regressed and history and history[-1][0] > start:
            regression_at = history[-1][0]  # the newest version brought the regression
        for h in range(hours):
            hour_start = start + dt.timedelta(hours=h)
            expected = per_day / 24 * weights[h] / mean_weight
            count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            for _ in range(count):
                started = hour_start + dt.timedelta(seconds=rng.random() * 3600)
                if started >= now:
                    continue
                version, version_id = _version_at(history, started)
                m_median, m_err, m_inp, m_out = median, error_rate, inp, out
                if regressed and started >= regression_at:
                    m_median, m_err, m_inp, m_out = median * 2.1, 0.09, int(inp * 1.6), int(out * 1.4)
                model = models[0] if len(models) == 1 or rng.random() < 0.5 else models[1]
                if slug == "refactoring-coach" and model == "gpt-4o-mini":
                    m_median *= 0.7
                failed = rng.random() < m_err
                duration = rng.lognormvariate(math.log(m_median), sigma)
                if failed:
                    error_type, message = ERRORS[min(int(rng.expovariate(1.2)), len(ERRORS) - 1)]
                    if error_type == "Timeout":
                        duration = max(duration, 60000.0)
                else:
                    error_type, message = "", ""
                i_tokens = max(1, int(rng.lognormvariate(math.log(m_inp), 0.35)))
                o_tokens = 0 if failed and rng.random() < 0.5 else max(1, int(rng.lognormvariate(math.log(m_out), 0.4)))
                cached = int(i_tokens * rng.uniform(0.0, 0.5)) if rng.random() < 0.6 else 0
                reasoning = (
                    int(o_tokens * rng.uniform(0.3, 0.7)) if model.startswith(("o3", "o4", "deepseek-reasoner")) else 0
                )
                n += 1
                yield {
                    "client_id": f"demo-{team.slug}-{n}",
                    "agent_name": slug,
                    "agent_id": agent_id,
                    "agent_version_id": version_id,
                    "version": version,
                    "model": model,
                    "started_at": started,
                    "duration_ms": round(duration, 3),
                    "status": "error" if failed else "success",
                    "error_type": error_type,
                    "error_message": message,
                    "input_tokens": i_tokens,
                    "output_tokens": o_tokens,
                    "cached_input_tokens": cached,
                    "reasoning_tokens": reasoning,
                    "received_at": received,
                }


def seed(ctx) -> None:
    """Fill the app with realistic data for the demo teams in ``ctx``."""
    now = timezone.now().replace(microsecond=0)
    start = (now - dt.timedelta(days=DAYS)).replace(minute=0, second=0)
    book = PriceBook.load()
    plan = [
        (slug, agents)
        for slug, agents in (("acme", ACME), ("globex", GLOBEX), ("initech", INITECH))
        if slug in ctx.teams
    ]
    total_agents = sum(len(agents) for _, agents in plan)
    with ctx.progress(total_agents, "Observability executions") as bar:
        for slug, agents in plan:
            team = ctx.teams[slug]
            agent_ids, histories = {}, {}
            for spec in agents:
                found = marketplace_selectors.agent_for_team(team=team, ref=spec[0])
                if found is not None:
                    agent_ids[spec[0]] = found.pk
                    releases = marketplace_selectors.versions_ordered(agent=found).filter(is_release=True)
                    histories[spec[0]] = sorted((v.created_at, v.version, v.pk) for v in releases)
            with connection.cursor() as cursor:
                raw = cursor.connection
                with (
                    raw.cursor() as pg,
                    pg.copy(f"COPY observability_execution ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
                ):
                    current_agent = None
                    for row in _rows(ctx, team, agents, start, now, agent_ids, histories):
                        if row["agent_name"] != current_agent:
                            if current_agent is not None:
                                bar.update(1)
                            current_agent = row["agent_name"]
                        cost = book.cost(
                            model=row["model"],
                            on=row["started_at"].date(),
                            input_tokens=row["input_tokens"],
                            output_tokens=row["output_tokens"],
                            cached_input_tokens=row["cached_input_tokens"],
                            reasoning_tokens=row["reasoning_tokens"],
                        )
                        trace = f"{ctx.rng.getrandbits(128):032x}"
                        copy.write_row(
                            execution_copy_row(
                                row
                                | {
                                    "team_id": team.pk,
                                    "operation": "invoke_agent",
                                    "source": "demo",
                                    "trace_id": trace,
                                    "span_id": trace[:16],
                                    "name": f"invoke_agent {row['agent_name']}",
                                    "cost": cost,
                                    "cost_source": "price" if cost is not None else "none",
                                }
                            )
                        )
                    bar.update(1)
            if slug == "acme":
                demo_traces.seed(ctx, team, now)  # through ingest: traces with messages and tool calls
            spans.traces_from_spans(team_id=team.pk)  # the summaries of the COPYed executions
    services.rollups_rebuild(start=start, end=now + dt.timedelta(hours=1))  # version evidence included
    marketplace_services.evidence_agents_refresh()
