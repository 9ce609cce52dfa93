"""Deleting builds by hand (the admin) while the daily rollups stay exact.

A build's contribution to the error rollups cannot be subtracted (they keep an example message,
the greatest one), so the rollups of the team-days the deleted builds started on are recomputed
from the remaining raw builds, in the same transaction. Raw builds are never purged, so the
recompute is exact; afterwards ``manage.py teammemory_rollups --verify-only`` finds no mismatch.
Executions reported with a deleted build stay (their ``build`` becomes empty).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction

from teammemory import rollups
from teammemory.models import Build


@transaction.atomic
def builds_delete(*, builds) -> int:
    """Delete builds (a queryset or an iterable of them) with their agents and errors, and
    recompute the rollups of the team-days they belonged to. Returns the number deleted."""
    ids = [b.pk for b in builds] if not hasattr(builds, "values_list") else builds.values("pk")
    rows = list(
        Build.objects.filter(pk__in=ids).order_by("pk").select_for_update().values("pk", "team_id", "started_at")
    )
    if not rows:
        return 0
    Build.objects.filter(pk__in=[row["pk"] for row in rows]).delete()
    teams_by_day: dict[dt.date, set[int]] = defaultdict(set)
    for row in rows:
        teams_by_day[row["started_at"].astimezone(dt.UTC).date()].add(row["team_id"])
    for day in sorted(teams_by_day):
        rollups.rebuild(team_ids=sorted(teams_by_day[day]), start_day=day, end_day=day + dt.timedelta(days=1))
    return len(rows)
