"""The nightly rollup verification: observability's ``rollups_verify`` for one day, and an alert
event for each team whose rollups do not match its raw executions."""

from __future__ import annotations

import datetime as dt
import logging

from django.urls import reverse

from crucible.models import Team
from crucible.notifications import notification_publish
from observability import selectors as observability

logger = logging.getLogger(__name__)


def rollups_verify_and_alert(*, day: dt.date) -> dict:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    report = observability.rollups_verify(start=start, end=start + dt.timedelta(days=1), sample=1000)
    mismatches: dict[int, int] = {}
    for info in report["tables"].values():
        for row in info["sample"]:
            mismatches[row["team_id"]] = mismatches.get(row["team_id"], 0) + 1
    for team in Team.objects.filter(pk__in=list(mismatches)).order_by("pk"):
        logger.error("Rollups of %s on %s do not match raw executions (%s rows).", team.slug, day, mismatches[team.pk])
        notification_publish(
            team=team,
            kind="alert.firing",
            title=f"Observability rollups of {day:%Y-%m-%d} do not match the raw executions",
            body=(
                f"{mismatches[team.pk]:,} rollup rows differ from a recompute. Run "
                f"`manage.py observability_rollups --start {day:%Y-%m-%d} --end {day + dt.timedelta(days=1):%Y-%m-%d} "
                f"--team {team.slug}` to rebuild them."
            ),
            url=reverse("observability:index"),
            payload={"day": day.isoformat(), "mismatched_rows": mismatches[team.pk]},
            dedupe_key=f"rollups-verify:{day:%Y-%m-%d}",
        )
    return {"day": day.isoformat(), "ok": report["ok"], "teams": len(mismatches)}
