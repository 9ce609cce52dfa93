"""Team memory's notification: the quality trend turning significantly down
(``teammemory.quality_down``), published once per transition.

The check reads the same trend as the insights page (``quality_trend`` over the default insights
period, weekly points from the daily rollups, a slope's t-test) and records its direction in
``QualityTrendWatch`` with one conditional upsert: a row comes back only when the direction
changed, so a team whose trend stays "falling" is told once, and again only after it recovered
and fell anew. The event's ``dedupe_key`` names the team and the moment of the change, so a job
retried after a crash publishes it once.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crucible import sql
from crucible.models import Team
from crucible.notifications import notification_publish
from teammemory import conf
from teammemory.models import BuildDailyRollup, QualityTrendWatch
from teammemory.selectors.trends import quality_trend

FALLING = "falling"

# Only a change of direction writes (and returns) a row.
WATCH_SQL = f"""
INSERT INTO {QualityTrendWatch._meta.db_table} AS w (team_id, direction, changed_at, slope_per_week, p_value)
VALUES (%(team)s, %(direction)s, %(now)s, %(slope)s, %(p_value)s)
ON CONFLICT (team_id) DO UPDATE SET direction = EXCLUDED.direction, changed_at = EXCLUDED.changed_at,
    slope_per_week = EXCLUDED.slope_per_week, p_value = EXCLUDED.p_value
WHERE w.direction IS DISTINCT FROM EXCLUDED.direction
RETURNING w.changed_at
"""


@transaction.atomic
def quality_trend_watch(*, team: Team, now: dt.datetime | None = None) -> bool:
    """Check ``team``'s quality trend; publish ``teammemory.quality_down`` when it has just turned
    to "falling". Returns whether it was published."""
    now = now or timezone.now()
    trend = quality_trend(team=team, since=now - dt.timedelta(days=conf.INSIGHTS_DEFAULT_DAYS), until=now)
    quality = trend["quality"]
    changed = sql.fetch_one(
        WATCH_SQL,
        {
            "team": team.pk,
            "direction": quality["direction"],
            "now": now,
            "slope": quality["slope_per_week"],
            "p_value": quality["p_value"],
        },
    )
    if changed is None or quality["direction"] != FALLING:
        return False
    slope = quality["slope_per_week"]
    notification_publish(
        team=team,
        kind="teammemory.quality_down",
        title=f"Build quality is falling: {slope:+.1f} points a week",
        body=(
            f"Team memory's quality trend over the last {conf.INSIGHTS_DEFAULT_DAYS} days turned down "
            f"({slope:+.2f} quality points a week over {quality['weeks']} weeks, p = {quality['p_value']:.3g})."
        ),
        url=reverse("teammemory:index"),
        payload={
            "direction": FALLING,
            "slope_per_week": slope,
            "p_value": quality["p_value"],
            "weeks": quality["weeks"],
            "since": (now - dt.timedelta(days=conf.INSIGHTS_DEFAULT_DAYS)).isoformat(),
            "until": now.isoformat(),
        },
        dedupe_key=f"teammemory.quality_down:{team.pk}:{changed['changed_at'].isoformat()}",
    )
    return True


def quality_trend_watch_all(*, now: dt.datetime | None = None) -> dict:
    """Check every team with builds in the insights period or a direction on record."""
    now = now or timezone.now()
    since = (now - dt.timedelta(days=conf.INSIGHTS_DEFAULT_DAYS)).date()
    team_ids = set(BuildDailyRollup.objects.filter(day__gte=since).values_list("team_id", flat=True).distinct())
    team_ids |= set(QualityTrendWatch.objects.values_list("team_id", flat=True))
    published = 0
    for team in Team.objects.filter(pk__in=team_ids).order_by("pk"):
        published += quality_trend_watch(team=team, now=now)
    return {"teams": len(team_ids), "published": published}
