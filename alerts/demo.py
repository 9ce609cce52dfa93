"""Demo alert rules for every demo team (run by ``seed_demo`` after the executions)."""

from __future__ import annotations

from alerts import services

RULES = [
    {"name": "Error rate", "metric": "error_rate", "window_minutes": 60, "warning_threshold": 0.05,
     "critical_threshold": 0.1, "min_samples": 20, "pending_minutes": 5},
    {"name": "Slow p95", "metric": "p95_ms", "window_minutes": 60, "warning_threshold": 15000,
     "critical_threshold": 30000, "min_samples": 20, "pending_minutes": 5},
    {"name": "Daily spend", "metric": "cost", "window_minutes": 1440, "warning_threshold": 50,
     "critical_threshold": 100},
    {"name": "Unpriced executions", "metric": "unpriced", "window_minutes": 1440, "warning_threshold": 0},
]  # fmt: skip


def seed(ctx) -> None:
    teams = list(ctx.teams.values())
    with ctx.progress(len(teams), "Alert rules") as bar:
        for team in teams:
            for rule in RULES:
                services.alert_rule_create(team=team, data=dict(rule))
            bar.update(1)
